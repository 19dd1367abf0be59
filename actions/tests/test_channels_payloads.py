"""The payloads' rules for any message: Slack's Block Kit limits, the email's escaping, and the signed
webhook's signature (verified as the docs tell receivers; any change to the body or the timestamp
breaks it)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from actions.channels import Fact, Message
from actions.channels.email import html
from actions.channels.slack import blocks
from actions.channels.webhook import signature
from actions.tests.fake_receiver import verify

texts = st.text(min_size=1, max_size=4000)
facts = st.lists(st.builds(Fact, label=st.text(max_size=300), value=st.text(max_size=3000)), max_size=15)
messages = st.builds(
    Message, title=texts, text=st.text(max_size=5000), url=st.just("https://e360.example.com/x"), facts=facts.map(tuple)
)


@given(messages)
def test_slack_blocks_keep_within_block_kits_limits(message):
    found = blocks(message)

    header, *rest = found["blocks"]
    assert 1 <= len(header["text"]["text"]) <= 150
    assert len(found["text"]) <= 3000
    for block in rest:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "section" and "fields" in block:
            assert 1 <= len(block["fields"]) <= 10
            assert all(len(field["text"]) <= 2000 for field in block["fields"])


@given(st.text(alphabet="<>&a", min_size=1, max_size=2000))
def test_slack_mrkdwn_escapes_its_control_characters_even_when_cut(text):
    section = blocks(Message(title="t", text=text))["blocks"][1]["text"]["text"]

    assert "<" not in section and ">" not in section
    assert re.fullmatch(r"(a|&amp;|&lt;|&gt;)*…?", section)
    if not section.endswith("…"):
        assert section.count("&") == text.count("&") + text.count("<") + text.count(">")


@given(st.text(max_size=200))
def test_the_email_html_escapes_what_it_is_given(text):
    page = html(Message(title=text, text=text, facts=(Fact(text, text),)))

    assert "<script" not in page.replace("&lt;script", "")


@given(key=st.text(min_size=1, max_size=64), body=st.binary(max_size=2000), timestamp=st.integers(10**9, 2 * 10**9))
def test_a_signature_verifies_and_any_change_breaks_it(key, body, timestamp):
    headers = {"x-e360-timestamp": str(timestamp), "x-e360-signature": signature(key, str(timestamp), body)}

    assert verify(key, headers, body, now=timestamp)
    assert not verify(key, headers, body + b"x", now=timestamp)
    assert not verify(key, {**headers, "x-e360-timestamp": str(timestamp + 1)}, body, now=timestamp)
    assert not verify(key + "x", headers, body, now=timestamp)
