"""Long FetchXML goes inside a $batch POST; the inner response is unwrapped and retried like any other."""

from __future__ import annotations

import urllib.parse

import httpx

from dynsync_tui.connectors.auth import StaticToken
from dynsync_tui.connectors.batch import MAX_GET_URL, batch_body, unwrap
from dynsync_tui.connectors.dataverse import DataverseClient

from .mock_http import Recorder, Sleeps

ENV = "https://contoso.crm4.dynamics.com"


def multipart(status: int, body: str, **headers: str) -> httpx.Response:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    text = (f"--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json; odata.metadata=minimal\r\n"
            f"Content-Length: 3\r\n{extra}\r\n{body}\r\n--batchresponse_1--\r\n")
    return httpx.Response(200, content=text.encode(),
                          headers={"Content-Type": "multipart/mixed; boundary=batchresponse_1"})


def test_batch_body_shape():
    ctype, body = batch_body(ENV + "/api/data/v9.2/contacts?fetchXml=x", {"Accept": "application/json"})
    assert ctype == 'multipart/mixed; boundary="batch_dsx1"'
    lines = body.decode().split("\r\n")
    assert lines[:5] == ["--batch_dsx1", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "",
                         f"GET {ENV}/api/data/v9.2/contacts?fetchXml=x HTTP/1.1"]
    assert lines[5] == "Accept: application/json" and lines[-2] == "--batch_dsx1--"


def test_unwrap_gives_the_inner_status_headers_and_body():
    inner = unwrap(multipart(429, '{"error":{"code":"","message":"busy"}}', **{"Retry-After": "4"}))
    assert inner.status_code == 429 and inner.headers["Retry-After"] == "4"
    assert inner.json()["error"]["message"] == "busy"


def test_long_fetchxml_is_sent_in_a_batch_and_a_429_inside_is_retried():
    values = "".join(f'<value>{i:08d}-0000-0000-0000-000000000000</value>' for i in range(800))
    query = (f'<fetch><entity name="contact"><attribute name="contactid"/><filter>'
             f'<condition attribute="parentcustomerid" operator="in">{values}</condition></filter></entity></fetch>')
    rec = Recorder(responses=[multipart(429, "{}", **{"Retry-After": "2"}),
                              multipart(200, '{"value":[{"contactid":"c1"}],"@Microsoft.Dynamics.CRM.morerecords":false}')])
    sleeps = Sleeps()
    dv = DataverseClient(ENV, StaticToken("t"), transport=rec.transport, sleep=sleeps)
    rows = [r for page in dv.iter_fetchxml("contacts", query) for r in page]
    assert rows == [{"contactid": "c1"}] and dv.requests == 2 and len(sleeps) == 1
    req = rec.requests[0]
    assert req.method == "POST" and req.url.path == "/api/data/v9.2/$batch"
    assert req.headers["Authorization"] == "Bearer t"
    body = req.content.decode()
    get_line = next(line for line in body.split("\r\n") if line.startswith("GET "))
    assert len(get_line) > MAX_GET_URL
    sent = urllib.parse.parse_qs(urllib.parse.urlsplit(get_line.split(" ")[1]).query)["fetchXml"][0]
    assert sent == query
    assert "Prefer: odata.include-annotations=" in body and "Authorization" not in body
