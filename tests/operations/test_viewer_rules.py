"""The viewer server's rules as pure functions: request targets, DICOMweb paths, the query as signed, the secret."""

from __future__ import annotations

import pytest

from ahiops import viewer_rules
from ahiops.viewer_rules import RefusedPathError

DATASTORE = "0123456789abcdef0123456789abcdef"


def test_a_clean_target_is_split_and_decoded() -> None:
    target = viewer_rules.parse_target("/datastore/x/studies?PatientID=A%20B&limit=")
    assert target.path == "/datastore/x/studies"
    assert target.query == [("PatientID", "A B"), ("limit", "")]


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/a/../b", 400),
        ("/a/%2E%2E/b", 400),
        ("/a/%2fb", 400),
        ("/a%5Cb", 400),
        ("/a//b", 400),
        ("/a/./b", 400),
        ("/a%01b", 400),
        ("/%ff", 400),
        ("*", 400),
        ("http://attacker.example/a", 400),
        ("/" + "a" * 5000, 414),
    ],
)
def test_unclean_targets_are_refused(target: str, status: int) -> None:
    with pytest.raises(RefusedPathError) as refused:
        viewer_rules.parse_target(target)
    assert refused.value.status == status


@pytest.mark.parametrize(
    "rest",
    [
        "/studies",
        "/studies/1.2.3/series",
        "/studies/1.2/series/3.4/metadata",
        "/studies/1/series/2/instances/3/frames/1,2",
    ],
)
def test_dicomweb_paths_of_this_data_store_are_forwarded(rest: str) -> None:
    assert viewer_rules.dicomweb_rest(f"/datastore/{DATASTORE}{rest}", DATASTORE) == rest


@pytest.mark.parametrize(
    "path",
    [
        f"/datastore/{'f' * 32}/studies",
        f"/datastore/{DATASTORE}",
        f"/datastore/{DATASTORE}/",
        f"/datastore/{DATASTORE}/x",
    ],
)
def test_other_paths_are_not_forwarded(path: str) -> None:
    with pytest.raises(RefusedPathError, match=f"(data store |datastore/){DATASTORE}") as refused:
        viewer_rules.dicomweb_rest(path, DATASTORE)
    assert refused.value.status == 404


def test_the_query_is_encoded_as_sigv4_canonicalises_it() -> None:
    pairs = [("includefield", "00081030,00080060"), ("PatientName", "Doe^J*"), ("x", "a~b_c.d-e")]
    assert viewer_rules.encoded_query(pairs) == "includefield=00081030%2C00080060&PatientName=Doe%5EJ%2A&x=a~b_c.d-e"


def test_host_must_be_exactly_the_loopback_address_and_port() -> None:
    assert viewer_rules.host_allowed(["127.0.0.1:8042"], 8042)
    assert not viewer_rules.host_allowed(["127.0.0.1:8042", "127.0.0.1:8042"], 8042)
    assert not viewer_rules.host_allowed(["localhost:8042"], 8042)
    assert not viewer_rules.host_allowed([], 8042)


def test_the_secret_is_read_from_this_ports_cookie_only() -> None:
    headers = ["ahictl-view-1=other; ahictl-view-2=mine", 'bad"cookie']
    assert viewer_rules.cookie_secret(headers, 2) == "mine"
    assert viewer_rules.cookie_secret(headers, 3) is None
    assert viewer_rules.secret_matches("mine", "mine")
    assert not viewer_rules.secret_matches(None, "mine")
    assert not viewer_rules.secret_matches("min", "mine")


def test_the_printed_url_carries_the_secret_and_the_study() -> None:
    url = viewer_rules.open_url(8042, "s3cr3t", "1.2.3")
    assert url == "http://127.0.0.1:8042/ahictl/open?key=s3cr3t&study=1.2.3"


@pytest.mark.parametrize(("value", "problem"), [("1.2.x", "digits separated by dots"), ("1." * 40 + "1", "at most 64")])
def test_a_study_that_is_not_a_uid_is_explained(value: str, problem: str) -> None:
    assert problem in viewer_rules.study_uid_problem(value)


def test_a_uid_is_a_study() -> None:
    assert viewer_rules.study_uid_problem("1.2.840.113619.2.1.1.322987881") == ""


def test_fetch_metadata_from_the_viewer_or_the_user_only() -> None:
    assert viewer_rules.fetch_site_allowed([])
    assert viewer_rules.fetch_site_allowed(["same-origin"])
    assert viewer_rules.fetch_site_allowed(["none"])
    assert not viewer_rules.fetch_site_allowed(["same-site"])
    assert not viewer_rules.fetch_site_allowed(["cross-site"])
    assert not viewer_rules.fetch_site_allowed(["same-origin", "cross-site"])
