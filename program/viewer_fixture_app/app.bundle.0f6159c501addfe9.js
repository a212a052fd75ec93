document.getElementById("root").textContent = "stand-in viewer";
