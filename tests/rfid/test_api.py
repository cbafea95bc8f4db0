"""Id tags: create, read, update and delete through the API."""

from __future__ import annotations

import pytest

from apps.rfid.models import IdTag

pytestmark = pytest.mark.django_db

ALL = ["rfid.view_idtag", "rfid.add_idtag", "rfid.change_idtag", "rfid.delete_idtag"]


@pytest.fixture
def admin(client_with):
    return client_with(*ALL)


def test_an_id_tag_goes_through_create_read_update_delete(admin):
    IdTag.objects.create(id_tag="FLEET")
    created = admin.post(
        "/api/id-tags/",
        {
            "id_tag": "CARD-1",
            "label": "Alice's card",
            "parent": "FLEET",
            "expiry_date": "2030-06-30T12:00:00Z",
            "in_local_list": True,
            "token_type": "ISO15693",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["parent"] == "FLEET"
    assert body["status"] == "Accepted"
    assert body["expiry_date"] == "2030-06-30T12:00:00.000Z"
    tag = IdTag.objects.get(id_tag="CARD-1")
    assert tag.parent.id_tag == "FLEET"
    assert tag.in_local_list is True
    assert tag.token_type == "ISO15693"

    read = admin.get("/api/id-tags/CARD-1/")
    assert read.status_code == 200
    assert read.json()["label"] == "Alice's card"

    changed = admin.patch(
        "/api/id-tags/CARD-1/",
        {"status": "Blocked", "parent": None, "expiry_date": None},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    tag.refresh_from_db()
    assert (tag.status, tag.parent, tag.expiry_date) == ("Blocked", None, None)

    replaced = admin.put(
        "/api/id-tags/CARD-1/", {"id_tag": "CARD-1", "label": "spare"}, format="json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["label"] == "spare"

    assert admin.delete("/api/id-tags/CARD-1/").status_code == 204
    assert not IdTag.objects.filter(id_tag="CARD-1").exists()
    assert admin.get("/api/id-tags/CARD-1/").status_code == 404


def test_an_unknown_parent_is_named_in_the_error(admin):
    response = admin.post("/api/id-tags/", {"id_tag": "C", "parent": "GHOST"}, format="json")
    assert response.status_code == 400
    assert "parent" in response.json()
    assert not IdTag.objects.exists()


def test_a_duplicate_id_tag_is_a_400(admin):
    IdTag.objects.create(id_tag="CARD-1")
    response = admin.post("/api/id-tags/", {"id_tag": "CARD-1"}, format="json")
    assert response.status_code == 400
    assert "id_tag" in response.json()


def test_an_unknown_status_is_a_400(admin):
    response = admin.post("/api/id-tags/", {"id_tag": "C", "status": "Maybe"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()


def test_a_tag_cannot_be_its_own_ancestor(admin):
    group = IdTag.objects.create(id_tag="GROUP")
    IdTag.objects.create(id_tag="MEMBER", parent=group)
    own = admin.patch("/api/id-tags/GROUP/", {"parent": "GROUP"}, format="json")
    assert own.status_code == 400
    loop = admin.patch("/api/id-tags/GROUP/", {"parent": "MEMBER"}, format="json")
    assert loop.status_code == 400
    assert "parent" in loop.json()
    group.refresh_from_db()
    assert group.parent is None


def test_it_filters_id_tags(admin):
    group = IdTag.objects.create(id_tag="GROUP")
    IdTag.objects.create(id_tag="A", parent=group, in_local_list=True)
    IdTag.objects.create(id_tag="B", status="Blocked")

    def tags(**params) -> list[str]:
        return [row["id_tag"] for row in admin.get("/api/id-tags/", params).json()["results"]]

    assert tags() == ["A", "B", "GROUP"]
    assert tags(status="Blocked") == ["B"]
    assert tags(in_local_list="true") == ["A"]
    assert tags(parent="GROUP") == ["A"]


def test_reading_id_tags_does_not_allow_changing_them(client_with):
    IdTag.objects.create(id_tag="CARD-1")
    client = client_with("rfid.view_idtag")
    assert client.get("/api/id-tags/CARD-1/").status_code == 200
    assert client.delete("/api/id-tags/CARD-1/").status_code == 403
    assert client.post("/api/id-tags/", {"id_tag": "X"}, format="json").status_code == 403
