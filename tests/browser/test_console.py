"""The operators' console in a real browser: log in, resume a paused connector, re-drive a dead letter; the
main pages are captured as screenshots."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from playwright.sync_api import Page, expect

from farmacy.connect import ConnectClient
from farmacy.settings import Settings
from ops.connectors import act
from ops.dead_letters import DeadLetter, discard, list_dead_letters
from ops.status import topic_ends
from tests.browser.conftest import screenshot
from tests.support.wait import wait_until

pytestmark = pytest.mark.browser
IMPOSSIBLE_LSN = 2**62  # poison whose hold binds nothing (no real position is that far), so other tests never wait


def _connector_state(stack: Settings) -> str:
    client = ConnectClient(stack.connect_urls)
    try:
        status = client.status(stack.connector_name)
    finally:
        client.close()
    return str(status["connector"]["state"]) if status else "missing"


def _dead_letters_recorded(stack: Settings, view: str) -> int:
    topic = stack.dead_letter_topic(view)
    return topic_ends(AdminClient({"bootstrap.servers": stack.kafka_bootstrap}), [topic])[topic]


def test_console_shows_every_section(console: Page, stack: Settings, tmp_path: Path) -> None:
    for section in ("views", "capture", "alerts", "dead-letters", "reconcile", "replay", "jobs"):
        expect(console.locator(f"#{section}-section")).to_be_visible()
    expect(console.locator("#views tr.view-row")).to_have_count(len(stack.views), timeout=60_000)
    expect(console.locator("#capture tr.connector")).to_have_count(1)
    console.select_option("#reconcile-section select[name=view]", "catalog")
    console.click("#reconcile-run")
    expect(console.locator("#reconcile-outcome")).to_contain_text("catalog: master", timeout=60_000)
    screenshot(console, "overview", tmp_path)


def test_resume_a_paused_connector(console: Page, stack: Settings, tmp_path: Path) -> None:
    act(stack, stack.connector_name, "pause")
    try:
        wait_until(lambda: _connector_state(stack) == "PAUSED", 30, "the connector to pause", interval=0.5)
        console.reload()
        row = console.locator(f'#capture tr.connector[data-connector="{stack.connector_name}"]')
        expect(row.locator(".connector-state")).to_have_text("PAUSED", timeout=30_000)
        screenshot(console, "connector-paused", tmp_path)
        row.locator("button.resume").click()
        expect(console.locator("#capture .msg")).to_contain_text(f"resume sent to {stack.connector_name}")
        expect(row.locator(".connector-state")).to_have_text("RUNNING", timeout=60_000)
        assert _connector_state(stack) == "RUNNING"
    finally:
        if _connector_state(stack) == "PAUSED":
            act(stack, stack.connector_name, "resume")


def test_redrive_a_dead_letter(console: Page, stack: Settings, tmp_path: Path) -> None:
    view = "subscriptions"  # the only view reading subscription.subscriptions
    before = len(list_dead_letters(stack, view, 500))
    key = json.dumps({"id": str(uuid.uuid4())}).encode()
    value = json.dumps({"op": "u", "source": {"lsn": IMPOSSIBLE_LSN, "txId": 1}, "ts_ms": 0}).encode()
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    producer.produce(stack.topic("subscription", "subscriptions"), key=key, value=value)
    assert producer.flush(10) == 0
    wait_until(lambda: len(list_dead_letters(stack, view, 500)) > before, 120, "the event dead-lettered", interval=1)
    try:
        console.reload()
        panel = console.locator(f'#dlq-{view} .dlq[data-view="{view}"]')
        expect(panel).not_to_have_attribute("data-count", "0", timeout=30_000)
        panel.locator("details summary").first.click()  # inspect: the error and the source coordinates
        expect(panel.locator("details pre").first).to_contain_text("position", ignore_case=True)
        recorded = _dead_letters_recorded(stack, view)
        panel.locator("button.redrive").click()
        expect(console.locator(f"#dlq-{view} .msg")).to_contain_text(f"to {view}'s worker")
        message = console.locator(f"#dlq-{view} .msg").inner_text()
        assert int(message.split()[1]) >= 1, message  # "re-drove N event(s) ..."
        # The worker read it again from its re-drive topic; still poison, it is dead-lettered anew.
        wait_until(lambda: _dead_letters_recorded(stack, view) > recorded, 120, "the re-driven event handled", 1)
    finally:
        discard(stack, view)
    expect(console.locator("#alerts-section")).to_be_visible()
    screenshot(console, "alerts", tmp_path)


def _poison(stack: Settings, view: str) -> bytes:
    """Sends an event the view's worker cannot apply (dead-lettered at once); returns its key."""
    key = json.dumps({"id": str(uuid.uuid4())}).encode()
    value = json.dumps({"op": "u", "source": {"lsn": IMPOSSIBLE_LSN, "txId": 1}, "ts_ms": 0}).encode()
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    producer.produce(stack.topic("subscription", "subscriptions"), key=key, value=value)
    assert producer.flush(10) == 0
    return key


def _letter_of(stack: Settings, view: str, key: bytes) -> DeadLetter | None:
    return next((d for d in reversed(list_dead_letters(stack, view, 500)) if d.key == key), None)


def test_dead_letters_current_apart_from_resolved_with_actions_per_letter(
    console: Page, stack: Settings, tmp_path: Path
) -> None:
    view = "subscriptions"
    discarded_key, redriven_key = _poison(stack, view), _poison(stack, view)
    wait_until(lambda: _letter_of(stack, view, redriven_key) is not None, 120, "both events dead-lettered", 1)
    first, second = _letter_of(stack, view, discarded_key), _letter_of(stack, view, redriven_key)
    assert first is not None and second is not None
    one, two = f"{first.partition}:{first.offset}", f"{second.partition}:{second.offset}"
    try:
        console.reload()
        panel = console.locator(f'#dlq-{view} .dlq[data-view="{view}"]')
        current = panel.locator(f'tr.letter.current[data-at="{one}"]')
        expect(current).to_have_count(1, timeout=30_000)
        expect(panel.locator(f'tr.letter.current[data-at="{two}"]')).to_have_count(1)
        row = console.locator(f'#views tr.view-row[data-view="{view}"] td.dead-letters')
        expect(row).not_to_have_attribute("data-current", "0", timeout=30_000)
        # inspect one letter: its error and its payload
        current.locator("summary").click()
        expect(current.locator("pre.payload")).to_contain_text(str(IMPOSSIBLE_LSN))

        # discard one letter: it moves to the resolved ones once its worker released its hold; the other stays current
        console.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
        current.locator("button.discard-one").click()
        expect(console.locator(f"#dlq-{view} .msg")).to_contain_text(f"discarded dead letter #{one}")
        resolved = f'#dlq-{view} tr.letter.resolved[data-at="{one}"]'
        wait_until(lambda: _refreshed(console, view).locator(resolved).count() == 1, 60, "the letter resolved", 2)
        expect(console.locator(f'#dlq-{view} tr.letter.current[data-at="{two}"]')).to_have_count(1)

        # re-drive one letter: still poison, it is dead-lettered anew; the new letter is current, the old resolved
        console.locator(f'#dlq-{view} tr.letter.current[data-at="{two}"] button.redrive-one').click()
        expect(console.locator(f"#dlq-{view} .msg")).to_contain_text(f"re-drove dead letter #{two}")
        source = second.origin
        again = f'#dlq-{view} tr.letter.current[data-source="{source}"]'
        wait_until(
            lambda: (
                _refreshed(console, view).locator(f'#dlq-{view} tr.letter.resolved[data-at="{two}"]').count() == 1
                and console.locator(again).count() == 1
            ),
            90,
            "the re-driven letter dead-lettered anew",
            2,
        )
        assert console.locator(again).get_attribute("data-at") != two
        # the views table counts the same current letters as the panel (both from the view's holds)
        console.evaluate("htmx.ajax('GET', '/console/part/views', '#views')")
        expect(row).to_have_attribute("data-current", panel.get_attribute("data-current") or "", timeout=15_000)
        console.locator(f"#dlq-{view} details.resolved-letters > summary").click()
        screenshot(console, "dead-letters", tmp_path)
    finally:
        discard(stack, view)


def _refreshed(console: Page, view: str) -> Page:
    """The page after its dead-letters panel of ``view`` was fetched again (what its every-10s refresh does)."""
    console.evaluate(f"htmx.ajax('GET', '/console/part/dead-letters/{view}', '#dlq-{view}')")
    console.wait_for_timeout(500)
    return console


def test_incremental_snapshot_shows_its_progress(console: Page, stack: Settings, tmp_path: Path) -> None:
    console.fill("#jobs-section input[name=tables]", "subscription.plans")
    console.click("#snapshot-run")
    job = console.locator('#jobs tr.job[data-kind="snapshot"]').first
    expect(job).to_be_visible()
    expect(job).to_have_attribute("data-state", "done", timeout=180_000)
    expect(job).to_contain_text("rows re-emitted")
    screenshot(console, "jobs", tmp_path)


def test_blue_green_rebuild_shows_its_progress(console: Page, stack: Settings) -> None:
    console.select_option("#rebuild-form select[name=view]", "subscriptions")
    console.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
    console.click("#rebuild-run")
    job = console.locator('#jobs tr.job[data-kind="rebuild"]').first
    expect(job).to_have_attribute("data-state", "done", timeout=180_000)
    expect(job).to_contain_text("alias swapped")
    wait_until(lambda: _serving(stack, "subscriptions"), 60, "the view's worker serving again", interval=0.5)


def _serving(stack: Settings, view: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{stack.sink_port(view)}/health", timeout=5).status_code in (200, 503)
    except httpx.HTTPError:
        return False
