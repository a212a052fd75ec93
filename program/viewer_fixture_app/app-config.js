window.config = {};
