"""The console in a real browser, next to `aiops demo --console` (real broker, OPA and gatekeeper):

1. see the demo incident and its proposals, make a key in the browser, enrol it with `aiops keys enroll`,
   approve the state-changing proposal after reading what will be signed, and see the execution appear;
2. tampered approvals (retargeted to another proposal id, or signed for another action) are denied by the gate,
   and the page shows why.

Screenshots go to test-artifacts/console/ (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.gatekeeper.binding import action_hash, canonical_action
from aiops.gatekeeper.tokens import sign_approval
from tests.aiops.console.browser import (
    WATCH_LAYOUT_SHIFTS,
    chromium,
    fits_the_width,
    screenshot,
    script_errors,
    unexpected_layout_shift,
    wait_until,
)
from tests.kafka_io import TopicReader, produce
from tests.processes import AIOPS, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Demo:
    process: subprocess.Popen
    log: Path
    url: str  # the console, without the token
    token: str
    bundle: Path
    settings: Settings  # the demo's topics

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def demo(services, tmp_path_factory) -> Iterator[Demo]:
    """`aiops demo --console` running until the module's tests are done."""
    state = tmp_path_factory.mktemp("demo-console")
    port, token = free_port(), "read-" + uuid.uuid4().hex
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")},
           "AIOPS_STATE_DIR": str(state), "AIOPS_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
           "AIOPS_CONSOLE_PORT": str(port), "AIOPS_CONSOLE_READ_TOKEN": token, "PYTHONUNBUFFERED": "1",
           "COLUMNS": "160", **{f"AIOPS_{name}_METRICS_PORT": "0" for name in
                                ("WORKER", "GATEKEEPER", "ALERTMANAGER_BRIDGE", "OTLP_RECEIVER", "APPROVALS")}}
    log = state / "demo.out"
    with log.open("wb") as out:
        process = subprocess.Popen([AIOPS, "demo", "--console", "--speed", "20", "--timeout", "900"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        def started() -> re.Match | None:
            if process.poll() is not None:
                raise AssertionError(f"the demo exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            return re.search(r"policy bundle: (\S+)", log.read_text(errors="replace"))

        bundle = Path(wait_until(started, 240, "the demo to start the console").group(1))
        assert f"console: http://127.0.0.1:{port}/?token={token}" in log.read_text()
        prefix = f"demo-{bundle.parent.name}."
        yield Demo(process, log, f"http://127.0.0.1:{port}", token, bundle,
                   Settings(kafka_bootstrap=services.kafka_bootstrap, topic_prefix=prefix))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the demo stops everything it started
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def log_in(driver: Any, demo: Demo) -> None:
    driver.get(f"{demo.url}/?token={demo.token}")
    assert driver.current_url == f"{demo.url}/", "the read token should leave the address bar"


def make_and_enrol_key(driver: Any, demo: Demo, name: str, tmp_path: Path) -> dict[str, Any]:
    """Generate the key pair in the browser, then enrol its public key as an admin would, with `aiops keys`."""
    driver.get(f"{demo.url}/keys")
    field = wait_until(lambda: driver.find_element(By.ID, "approver-name"), 10, "the key form")
    wait_until(field.is_displayed, 10, "the key form to show")
    field.send_keys(name)
    field.send_keys(Keys.ENTER)
    kid = wait_until(lambda: driver.find_element(By.ID, "key-kid").text, 10, "the key id")
    jwk = json.loads(driver.find_element(By.ID, "public-jwk").get_attribute("value"))
    assert set(jwk) == {"kty", "crv", "x", "y"}, "only the public key is shown"
    command = driver.find_element(By.ID, "enrol-command").text
    assert f"aiops keys enroll {name} " in command and str(demo.bundle) in command
    # The private key is a CryptoKey that cannot be exported, and nothing but the browser holds it.
    stored = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const open = indexedDB.open("aiops-console", 1);
        open.onsuccess = () => {
          const get = open.result.transaction("keys").objectStore("keys").get("approver");
          get.onsuccess = async () => {
            const key = get.result.privateKey;
            let exported = true;
            try { await crypto.subtle.exportKey("pkcs8", key); } catch (e) { exported = false; }
            done({extractable: key.extractable, type: key.type, exported, usages: key.usages});
          };
        };""")
    assert stored == {"extractable": False, "type": "private", "exported": False, "usages": ["sign"]}

    jwk_file = tmp_path / f"{name}.jwk"
    jwk_file.write_text(json.dumps(jwk))
    enrolled = subprocess.run([AIOPS, "keys", "enroll", name, "--groups", "sre", "--public-key", str(jwk_file),
                               "--policy-dir", str(demo.bundle)], capture_output=True, text=True, timeout=60,
                              check=False)
    assert enrolled.returncode == 0, enrolled.stderr
    assert kid in enrolled.stdout, "the browser and `aiops keys` must derive the same key id"
    # OPA watches the bundle directory; the page asks the console, which asks OPA, every few seconds.
    wait_until(lambda: driver.find_element(By.ID, "key-status").text.lower() == "enrolled", 60,
               "the bundle to know the key")
    return {"kid": kid, "jwk": jwk}


def orders_db_incident(driver: Any, demo: Demo) -> str:
    """The demo's incident (root cause orders-db) from the incident list: its id."""
    def find() -> str | None:
        driver.get(f"{demo.url}/")
        for row in driver.find_elements(By.CSS_SELECTOR, "#incident-list > li"):
            if "root cause orders-db" in row.text:
                return row.get_attribute("data-id")
        return None

    return wait_until(find, 240, "the demo incident", lambda: demo.output()[-3000:])


def card(driver: Any, proposal_id: str) -> Any:
    return driver.find_element(By.ID, f"proposal-{proposal_id}")


def gate_text(driver: Any, proposal_id: str) -> str:
    return driver.find_element(By.ID, f"gate-{proposal_id}").text


def press(driver: Any, key: str) -> None:
    # To whatever has focus when the key lands: resolving the focused element first goes stale when the page
    # re-renders the list in between (it did in CI).
    ActionChains(driver).send_keys(key).perform()


def focused(driver: Any, attribute: str) -> str | None:
    # Read in the page, for the same reason as press.
    return driver.execute_script("return document.activeElement && document.activeElement.getAttribute(arguments[0])",
                                 attribute)


def test_approve_in_the_browser_and_see_the_execution(demo: Demo, tmp_path: Path):
    with chromium(1280, 900) as driver:
        log_in(driver, demo)
        incident_id = orders_db_incident(driver, demo)
        key = make_and_enrol_key(driver, demo, "dana", tmp_path)

        # Keyboard: j selects the first incident row, Enter opens it.
        driver.get(f"{demo.url}/")
        driver.execute_script(WATCH_LAYOUT_SHIFTS)
        # Read in one script: the page may re-render the list between a find and a read (a stale element).
        rows = driver.execute_script(
            "return Array.from(document.querySelectorAll('#incident-list > li'), li => li.getAttribute('data-id'))")
        press(driver, "j")
        for _ in range(rows.index(incident_id)):
            press(driver, "j")
        press(driver, Keys.ENTER)
        wait_until(lambda: f"/incidents/{incident_id}" in driver.current_url, 10, "the incident page")
        driver.execute_script(WATCH_LAYOUT_SHIFTS)

        # The state-changing proposal arrives while the page is open (or is there already): a new proposal waits
        # behind the updates bar, and `u` shows it.
        def restart_card() -> Any:
            cards = [c for c in driver.find_elements(By.CSS_SELECTOR, "article[data-proposal]")
                     if "restart_deployment" in c.text and "needs approval" in c.text.lower()]
            if not cards and driver.find_element(By.ID, "updates-show").is_displayed():
                press(driver, "u")  # reloads the page
                wait_until(lambda: driver.execute_script("return window.__shifts === undefined"), 10, "the reload")
                driver.execute_script(WATCH_LAYOUT_SHIFTS)
            return cards[0] if cards else None

        proposal_card = wait_until(restart_card, 240, "the restart_deployment proposal",
                                   lambda: f"page: {driver.find_element(By.TAG_NAME, 'main').text[-2000:]}\n"
                                           f"demo: {demo.output()[-3000:]}")
        proposal_id = proposal_card.get_attribute("data-proposal")
        page = driver.find_element(By.TAG_NAME, "main").text
        for shown in ("Likely root cause", "orders-db", "Ranked candidates", "PostgresConnectionsNearLimit",
                      "Log templates", "Spans", "Similar past incidents", "state_changing action needs 1 approval"):
            assert shown in page, shown
        similar = driver.find_elements(By.CSS_SELECTOR, ".similar-list a[href^='/handbook/']")
        assert similar, "similar postmortems link into the handbook"
        assert fits_the_width(driver)
        screenshot(driver, "incident-1280.png")

        # Select the proposal with j and approve with a: the dialog says what will be signed, before signing.
        driver.find_element(By.TAG_NAME, "body").click()
        for _ in range(10):
            press(driver, "j")
            if focused(driver, "data-proposal") == proposal_id:
                break
        assert focused(driver, "data-proposal") == proposal_id
        press(driver, "a")
        dialog = wait_until(lambda: driver.find_element(By.ID, "decide"), 10, "the dialog")
        wait_until(lambda: "enrolled as dana" in driver.find_element(By.ID, "decide-key").text, 30,
                   "the dialog to know the key is enrolled")
        words = driver.find_element(By.ID, "decide-words").text
        for shown in ("You approve running restart_deployment", "deployment=orders-api", "prod/shop/orders-api",
                      proposal_id, "SHA-256", "authorises nothing else", "valid until"):
            assert shown in words, (shown, words)
        assert driver.find_element(By.ID, "decide-result").text == "Nothing has been signed or sent."
        screenshot(driver, "approve-dialog-1280.png")

        press(driver, Keys.ENTER)  # the focused button: Sign and approve
        wait_until(lambda: "The gate allowed it" in driver.find_element(By.ID, "decide-result").text, 90,
                   "the gate's answer in the dialog", lambda: driver.find_element(By.ID, "decide-result").text)
        press(driver, Keys.ESCAPE)
        wait_until(lambda: not dialog.is_displayed(), 5, "the dialog to close")
        wait_until(lambda: "EXECUTED" in gate_text(driver, proposal_id).upper(), 60, "the execution on the page")
        gate = gate_text(driver, proposal_id)
        assert "restart_deployment succeeded via platform-ctl" in gate
        assert f"approve by {key['kid']} via console: counted" in gate
        screenshot(driver, "executed-1280.png")

        # Nothing moved on its own while records streamed in (shifts right after a key press do not count).
        total, moved = unexpected_layout_shift(driver)
        assert total == 0, (moved, driver.execute_script("return performance.now()"))
        assert script_errors(driver) == []

        # The same page on a phone: one column, nothing sticking out sideways.
        driver.set_window_size(390, 844)
        driver.get(f"{demo.url}/incidents/{incident_id}")
        assert fits_the_width(driver)
        screenshot(driver, "incident-phone.png")
        driver.get(f"{demo.url}/")
        assert fits_the_width(driver)
        screenshot(driver, "incidents-phone.png")

    # On Kafka: the browser's token is the token `aiops approve` signs, and the gate verified it.
    approvals = TopicReader(demo.settings.kafka_bootstrap, demo.settings.topic("aiops.approvals"))
    try:
        codec = codec_for("Approval", demo.settings.topic("aiops.approvals"), demo.settings)
        records = approvals.wait_until(lambda rs: any(codec.decode(r.value)["proposal_id"] == proposal_id for r in rs),
                                       30, "the browser's approval")
        approval = next(codec.decode(r.value) for r in records if codec.decode(r.value)["proposal_id"] == proposal_id)
    finally:
        approvals.close()
    assert approval["source"] == "console" and approval["decision"] == "approve"
    header = jwt.get_unverified_header(approval["token"])
    assert header == {"alg": "ES256", "kid": key["kid"], "typ": "JWT"}
    public = jwt.PyJWK(key["jwk"]).key
    claims = jwt.decode(approval["token"], public, algorithms=["ES256"])
    assert claims["action_hash"] == served_signing_request(demo, proposal_id)["action_hash"]
    assert claims["proposal_id"] == proposal_id and claims["decision"] == "approve"
    assert claims["sub"] == "dana" and 0 < claims["exp"] - claims["iat"] <= 3600
    cli_token = sign_approval(ec.generate_private_key(ec.SECP256R1()), "x-000000000000", proposal_id=proposal_id,
                              action_hash=claims["action_hash"], decision="approve", subject="dana")
    cli_claims = jwt.decode(cli_token, options={"verify_signature": False})
    assert list(claims) == list(cli_claims), "the same claims, in the same order, as the CLI's token"
    assert jwt.get_unverified_header(cli_token) == {**header, "kid": "x-000000000000"}


def served_signing_request(demo: Demo, proposal_id: str) -> dict[str, Any]:
    """What the console tells the browser to sign for a proposal, read over HTTP with the read token."""
    import urllib.request

    request = urllib.request.Request(f"{demo.url}/proposals/{proposal_id}",  # noqa: S310 - loopback
                                     headers={"Authorization": f"Bearer {demo.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        page = response.read().decode()
    found = re.search(r'<script type="application/json" class="signing-request">(.*?)</script>', page, re.S)
    assert found, page[:2000]
    return json.loads(found.group(1))


def state_changing_proposal(incident_id: str, deployment: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    pid = f"prop-tamper-{uuid.uuid4().hex[:8]}"
    return {
        "id": pid, "incident_id": incident_id, "action": "restart_deployment",
        "parameters": {"environment": "prod", "namespace": "shop", "deployment": deployment},
        "target": {"environment": "prod", "namespace": "shop", "service": deployment},
        "risk_class": "state_changing", "blast_radius": 3, "rationale": "a second opinion for the tamper test",
        "evidence": [], "confidence": 0.5,
        "proposer": {"kind": "reasoner", "name": "runbook-reasoner", "version": "1", "note": None},
        "requested_by": None, "created_at": now, "expires_at": now + timedelta(hours=1), "idempotency_key": pid,
    }


# Rewrites the next approval request after the page signed it: the token's proposal_id claim and the body both
# name another proposal (the signature is left as it was), or only the body does.
RETARGET_NEXT_APPROVAL = """
const [target, tokenToo] = arguments;
const original = window.fetch;
window.fetch = (url, init) => {
  if (!String(url).endsWith("/api/v1/approvals")) return original(url, init);
  window.fetch = original;
  const body = JSON.parse(init.body);
  if (tokenToo) {
    const [header, payload, signature] = body.token.split(".");
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    claims.proposal_id = target;
    const forged = btoa(JSON.stringify(claims)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    body.token = [header, forged, signature].join(".");
  }
  body.proposal_id = target;
  return original(url, {...init, body: JSON.stringify(body)});
};
"""


def test_tampered_approvals_are_denied_by_the_gate_with_the_reason_on_the_page(demo: Demo, tmp_path: Path):
    with chromium(1280, 900) as driver:
        log_in(driver, demo)
        incident_id = orders_db_incident(driver, demo)
        key = make_and_enrol_key(driver, demo, "erin", tmp_path)
        first, second = (state_changing_proposal(incident_id, d) for d in ("checkout-api", "web-frontend"))
        codec = codec_for("Proposal", demo.settings.topic("aiops.proposals"), demo.settings)
        produce(demo.settings.kafka_bootstrap, demo.settings.topic("aiops.proposals"),
                [(p["id"].encode(), codec.encode(p)) for p in (first, second)])

        def both_waiting() -> bool:
            driver.get(f"{demo.url}/incidents/{incident_id}")
            return all("needs approval" in gate_text(driver, p["id"]).lower() for p in (first, second))

        wait_until(both_waiting, 60, "the gate to ask for approvals of both new proposals")

        def approve(proposal_id: str) -> str:
            card(driver, proposal_id).find_element(By.CSS_SELECTOR, 'button[data-decide="approve"]').click()
            wait_until(lambda: "enrolled as erin" in driver.find_element(By.ID, "decide-key").text, 30,
                       "the dialog")
            words = driver.find_element(By.ID, "decide-words").text
            driver.find_element(By.ID, "decide-sign").click()
            return words

        # 1. Only the body retargeted: the approvals endpoint sees the token names another proposal (422).
        driver.execute_script(RETARGET_NEXT_APPROVAL, second["id"], False)
        approve(first["id"])
        result = wait_until(lambda: driver.find_element(By.ID, "decide-result").text, 30, "the refusal")
        wait_until(lambda: "(422)" in driver.find_element(By.ID, "decide-result").text, 30, "the 422")
        assert f"token is for proposal '{first['id']}', the body says '{second['id']}'" in \
            driver.find_element(By.ID, "decide-result").text, result
        driver.find_element(By.ID, "decide-cancel").click()

        # 2. Token and body retargeted to another proposal: well formed, so it reaches the gate, which denies it.
        driver.execute_script(RETARGET_NEXT_APPROVAL, second["id"], True)
        approve(first["id"])
        wait_until(lambda: "Waiting for the gate" in driver.find_element(By.ID, "decide-result").text, 30, "202")
        driver.find_element(By.ID, "decide-cancel").click()
        # The gatekeeper does not keep an approval whose signature fails; the Decision says why.
        reason = f"signature does not verify with key '{key['kid']}'"
        wait_until(lambda: reason in gate_text(driver, second["id"]), 60, "the gate's reason on the other proposal",
                   lambda: gate_text(driver, second["id"]))
        assert "needs approval" in gate_text(driver, second["id"]).lower()

        # 3. The page's action tampered with (as a compromised page would): the dialog shows the other action in
        #    words, the token is bound to it, and the gate refuses it for this proposal.
        other = {"environment": "prod", "namespace": "shop", "deployment": "checkout-api", "replicas": 0}
        driver.execute_script("""
            const [id, canonical, hash] = arguments;
            const script = document.querySelector(`#proposal-${CSS.escape(id)} script.signing-request`);
            const request = JSON.parse(script.textContent);
            request.canonical_action = canonical; request.action_hash = hash;
            script.textContent = JSON.stringify(request);""",
                              first["id"], canonical_action("scale_deployment", other),
                              action_hash("scale_deployment", other))
        words = approve(first["id"])
        assert "You approve running scale_deployment" in words and "replicas=0" in words
        # Accepted (202), then the gate's answer replaces "Waiting for the gate's decision" in the dialog.
        wait_until(lambda: "did not count: action or parameters differ from what was approved"
                   in driver.find_element(By.ID, "decide-result").text, 60, "the gate's answer in the dialog",
                   lambda: driver.find_element(By.ID, "decide-result").text)
        screenshot(driver, "tampered-dialog-1280.png")
        driver.find_element(By.ID, "decide-cancel").click()
        gate = gate_text(driver, first["id"])
        assert f"approve by {key['kid']} via console: not counted: action or parameters differ" in gate
        assert "needs approval" in gate.lower() and "execution" not in gate.lower()
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", card(driver, first["id"]))
        screenshot(driver, "tampered-1280.png")

        # 4. An untampered rejection of the other proposal: a veto, which the gate counts.
        card(driver, second["id"]).find_element(By.CSS_SELECTOR, 'button[data-decide="reject"]').click()
        wait_until(lambda: "enrolled as erin" in driver.find_element(By.ID, "decide-key").text, 30, "the dialog")
        assert "You reject running restart_deployment" in driver.find_element(By.ID, "decide-words").text
        driver.find_element(By.ID, "decide-sign").click()
        wait_until(lambda: "Your reject counted" in driver.find_element(By.ID, "decide-result").text, 60,
                   "the veto to count", lambda: driver.find_element(By.ID, "decide-result").text)
        driver.find_element(By.ID, "decide-cancel").click()
        wait_until(lambda: "erin rejected this action" in gate_text(driver, second["id"]), 30, "the veto's reason")
        assert "REJECTED" in gate_text(driver, second["id"]).upper()

        # 5. Another proposal under an id already shown: the page keeps the first (as the gatekeeper does), says
        #    the id is ambiguous, and offers nothing to sign.
        forged = {**first, "action": "scale_deployment", "parameters": {**first["parameters"], "replicas": 0}}
        produce(demo.settings.kafka_bootstrap, demo.settings.topic("aiops.proposals"),
                [(forged["id"].encode(), codec.encode(forged))])
        wait_until(lambda: "AMBIGUOUS ID" in gate_text(driver, first["id"]).upper(), 30, "the ambiguity on the page")
        assert "restart_deployment" in card(driver, first["id"]).text
        assert not card(driver, first["id"]).find_element(By.CSS_SELECTOR, 'button[data-decide="approve"]').is_enabled()
        assert script_errors(driver) == []

    # The gate ran neither: no execution record names them.
    executions = TopicReader(demo.settings.kafka_bootstrap, demo.settings.topic("aiops.executions"))
    try:
        executions.poll(3)
        decode = codec_for("Execution", demo.settings.topic("aiops.executions"), demo.settings).decode
        ran = {decode(r.value)["proposal_id"] for r in executions.records}
    finally:
        executions.close()
    assert not ran & {first["id"], second["id"]}
