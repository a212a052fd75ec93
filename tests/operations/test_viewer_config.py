"""The generated app-config.js: one DICOMweb source on the page's own origin, as HealthImaging serves it."""

from __future__ import annotations

import json
import re

from ahiops.viewer_config import app_config, app_config_js

DATASTORE = "0123456789abcdef0123456789abcdef"


def source() -> dict[str, object]:
    [only] = app_config(DATASTORE)["dataSources"]
    configuration: dict[str, object] = only["configuration"]
    return configuration


def test_one_dicomweb_source_is_the_default() -> None:
    config = app_config(DATASTORE)
    [only] = config["dataSources"]
    assert only["namespace"] == "@ohif/extension-default.dataSourcesModule.dicomweb"
    assert config["defaultDataSourceName"] == only["sourceName"]


def test_the_source_loads_lazily_with_wadors_and_no_fuzzy_or_wildcard_search() -> None:
    configuration = source()
    assert configuration["imageRendering"] == "wadors"
    assert configuration["enableStudyLazyLoad"] is True
    assert configuration["supportsFuzzyMatching"] is False
    assert configuration["supportsWildcard"] is False
    assert configuration["omitQuotationForMultipartRequest"] is True


def test_no_address_outside_the_page_and_no_dynamic_configuration() -> None:
    script = app_config_js(DATASTORE).decode()
    assert not re.search(r"https?://", script)
    assert "dangerouslyUseDynamicConfig" not in script
    assert "oidc" not in script
    assert f'window.location.origin + "/datastore/{DATASTORE}"' in script


def test_the_tour_is_marked_as_shown_before_the_app_starts() -> None:
    script = app_config_js(DATASTORE).decode()
    assert script.index('localStorage.setItem("shownTours"') < script.index("window.config =")
    assert '["basicViewerTour"]' in script


def test_the_config_object_is_the_json_of_app_config() -> None:
    script = app_config_js(DATASTORE).decode()
    body = script.split("window.config = ", 1)[1].split(";\nwindow.config.dataSources", 1)[0]
    assert json.loads(body) == app_config(DATASTORE)
