"""The gateway's pages in a real headless Chromium (Playwright driving Debian's chromium).

An anonymous visitor, a logged-in viewer and a merchant each see exactly their tier of an
enterprise's archive; the merchant logs in with its platform's token, reads its level and
the reasons behind it, and sees who was shown its data, each entry's proof verified
against the log's signed checkpoint. A screenshot of each page is kept in
build/screenshots/. Forms refuse a POST without their CSRF token.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from integrity.v1 import verification_pb2
from playwright.async_api import Browser, Page, async_playwright

from clients import AsyncIntegrityClient
from clients.ledger_verifier import check_listing
from service.domain.callers import CallerKind
from service.settings import Settings
from tests.builders import verification_for
from tests.clock import TestClock
from tests.conftest import OpsCommand
from tests.integration.test_gateway import LEDGER, Rig, gateway_rig

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
# As this machine's Chromium must run: as root, headless, and not reaching for the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def rig(settings: Settings, clock: TestClock) -> AsyncIterator[Rig]:
    signing = dataclasses.replace(settings, ledger_signer=LEDGER)
    async with gateway_rig(signing, clock, ledger_verifier=LEDGER.verifier) as running:
        yield running


def _site(rig: Rig) -> str:
    # localhost: a secure context for Chromium, so the Secure session cookie is kept over
    # the test's plain HTTP, as it would be over HTTPS in production.
    return str(rig.http.base_url).replace("127.0.0.1", "localhost").rstrip("/")


async def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def _accessible_and_light(page: Page, url: str) -> None:
    """What every page owes a reader: its language, one main heading, a label for every
    field, no script at all, and little enough to load at once on a phone."""
    sizes: list[int] = []
    kinds: list[str] = []

    async def counted(response: Any) -> None:
        kinds.append(response.request.resource_type)
        sizes.append(len(await response.body()))

    page.on("response", counted)
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    page.remove_listener("response", counted)
    assert await page.get_attribute("html", "lang") == "zh-CN"
    assert await page.locator("h1").count() == 1
    for field in await page.locator("input:not([type=hidden]), textarea, select").all():
        field_id = await field.get_attribute("id")
        assert field_id and await page.locator(f"label[for='{field_id}']").count() == 1
    assert "script" not in kinds and await page.locator("script").count() == 0
    assert sum(sizes) < 40_000, (url, sum(sizes))  # the HTML and its one stylesheet


async def _log_in(page: Page, rig: Rig, site: str, token: str, next_path: str = "/") -> None:
    await page.goto(f"{site}/login?next={next_path}")
    await page.get_by_label("平台签发的登录令牌").fill(token)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state()


async def _verified_by_the_platform(rig: Rig) -> None:
    """The platform verifies the enterprise (its own credential, as a platform does)."""
    async with AsyncIntegrityClient(rig.server.target, token=rig.server.token) as platform:
        verification = await platform.create_verification(verification_for(rig.row))
    assert verification.outcome == verification_pb2.VERIFICATION_OUTCOME_VERIFIED


async def test_each_visitor_sees_exactly_their_tier(rig: Rig, browser: Browser) -> None:
    site = _site(rig)
    archive = f"{site}/enterprises/{rig.uscc}"

    anonymous = await browser.new_page()
    response = await anonymous.goto(archive)
    assert response is not None and response.status == 200
    assert await anonymous.locator("#tier").inner_text() == "查看身份：访客（公示信息）"
    assert await anonymous.get_by_role("heading", name="公示信息档案").is_visible()
    assert await anonymous.get_by_role("heading", name="信用等级").count() == 0
    assert await anonymous.get_by_role("heading", name="经营信用档案").count() == 0
    assert await anonymous.locator("#login-hint").is_visible()
    csp = response.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    await _shot(anonymous, "archive-anonymous")

    viewer = await browser.new_page()
    await _log_in(
        viewer,
        rig,
        site,
        rig.platform.token("viewer-9", rig.clock.now()),
        f"/enterprises/{rig.uscc}",
    )
    assert viewer.url == archive
    assert await viewer.locator("#tier").inner_text() == "查看身份：登录用户"
    assert await viewer.get_by_role("heading", name="信用等级").is_visible()
    assert await viewer.get_by_role("heading", name="经营信用档案").is_visible()
    assert await viewer.get_by_role("heading", name="主要原因").count() == 0  # the merchant's
    await _shot(viewer, "archive-logged-in")

    merchant = await browser.new_page()
    token = rig.platform.token("owner", rig.clock.now(), merchant_uscc=rig.uscc)
    await _log_in(merchant, rig, site, token)
    assert merchant.url == f"{site}/merchant"
    cookies = {c["name"]: c for c in await merchant.context.cookies()}
    session = cookies["__Host-integrity-session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
    assert session["path"] == "/" and session["expires"] > 0  # expiring, this host only
    assert "__Host-integrity-login" not in cookies  # the login form's, spent
    await merchant.goto(archive)
    assert await merchant.locator("#tier").inner_text() == "查看身份：本企业商户"
    await _shot(merchant, "archive-merchant")


async def test_a_merchant_reads_its_level_and_sees_its_disclosures_verified(
    rig: Rig, browser: Browser
) -> None:
    site = _site(rig)
    await _verified_by_the_platform(rig)
    for n in range(3):  # viewers of the platform look at the enterprise
        await rig.http.get(f"/v1/enterprises/{rig.uscc}/archive", headers=rig.bearer(f"v{n}"))
    page = await browser.new_page()
    await _log_in(
        page, rig, site, rig.platform.token("owner", rig.clock.now(), merchant_uscc=rig.uscc)
    )
    assert page.url == f"{site}/merchant"
    level_class = await page.locator("#level-class").inner_text()
    assert level_class  # a class, or 数据不足
    assert await page.get_by_role("heading", name="主要原因").is_visible()
    reasons = page.locator("ol.reasons > li")
    assert await reasons.count() >= 1
    assert "分" in await reasons.first.inner_text()
    assert await page.get_by_role("heading", name="最能提升等级的事项").is_visible()
    # The level over time: drawn on the server, a point per computed level, and a table.
    assert await page.get_by_role("img", name="信用等级得分变化").is_visible()
    assert await page.locator("svg.chart circle").count() >= 1
    assert await page.locator("table.levels tbody tr").count() >= 1
    await _shot(page, "merchant-level")

    # Its verifications: the platform's, with each field's check and the history.
    await page.get_by_role("link", name="认证记录").first.click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="我的认证记录").is_visible()
    assert await page.locator("article.verification").count() == 1
    assert "认证通过" in await page.locator("article.verification h2").inner_text()
    assert await page.locator("ol.history li").count() >= 1
    await _shot(page, "merchant-verifications")

    await page.get_by_role("link", name="谁看过我的数据").first.click()
    await page.wait_for_load_state()
    status = await page.locator("#proof-status").inner_text()
    assert status.startswith("✓ 本页"), status
    rows = page.locator("table.disclosures tbody tr")
    # The platform's verification, the three viewers' reads, and the merchant's own level
    # page and verifications.
    assert await rows.count() == 6
    assert all("✓ 已核验" in text for text in await rows.all_inner_texts())
    await _shot(page, "merchant-disclosures")

    # The page's JSON link answers the same session with the listing itself.
    download = await page.request.get(f"{site}/v1/enterprises/{rig.uscc}/disclosures")
    assert download.status == 200 and (await download.json())["checkpoint"]["treeSize"]

    # Everything the service holds about the enterprise, downloaded from its page.
    await page.get_by_role("link", name="我的信用").first.click()
    await page.wait_for_load_state()
    async with page.expect_download() as info:
        await page.get_by_role("link", name="下载本企业的全部数据（JSON）").click()
    download = await info.value
    saved = SCREENSHOTS.parent / "enterprise-data.json"
    await download.save_as(str(saved))
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert exported["format"] == "integrity-service/enterprise-data-export/v1"
    assert exported["archive"]["tier"] == "VIEWER_TIER_MERCHANT"
    assert exported["integrity_levels"] and len(exported["verifications"]) == 1
    assert exported["disclosure_ledger_complete"]
    ledger = exported["disclosure_ledger"]
    assert check_listing(ledger, LEDGER.verifier).ok  # the download checks offline as it is

    for path in ("/", "/login", f"/enterprises/{rig.uscc}", "/merchant", "/merchant/verifications",
                 "/merchant/disclosures"):  # fmt: skip
        await _accessible_and_light(page, f"{site}{path}")

    await page.get_by_role("button", name="退出登录").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("link", name="登录").is_visible()


async def test_visitors_see_what_the_merchant_disputes(rig: Rig, browser: Browser) -> None:
    from service.domain.callers import Viewer, ViewerKind

    merchant = Viewer(ViewerKind.MERCHANT, "demo:owner", merchant_uscc=rig.uscc)
    await rig.app.disputes.open(merchant, f"enterprises/{rig.uscc}", "public.status", "仍在营业")
    page = await browser.new_page()
    await page.goto(f"{_site(rig)}/enterprises/{rig.uscc}")
    notice = await page.locator("#under-dispute").inner_text()
    assert "正在核查" in notice and "登记状态" in notice
    await _shot(page, "archive-under-dispute")


async def _score(page: Page) -> int:
    return int(await page.locator("#level-score").inner_text())


async def test_a_merchant_disputes_a_record_and_sees_it_corrected(
    rig: Rig, browser: Browser, ops_command: OpsCommand, tmp_path: Path
) -> None:
    site = _site(rig)
    await _verified_by_the_platform(rig)
    page = await browser.new_page()
    await _log_in(
        page, rig, site, rig.platform.token("owner", rig.clock.now(), merchant_uscc=rig.uscc)
    )
    score_before = await _score(page)
    # The level's reasons name the dishonest-debtor listing J-1: the merchant disputes it.
    await (
        page.locator("ol.reasons a.dispute-link", has_text="提出异议")
        .and_(page.locator("[href*='judicial%3AJ-1']"))
        .click()
    )
    await page.wait_for_load_state()
    assert page.url.endswith("/merchant/disputes?item=judicial%3AJ-1")
    assert await page.get_by_label("有误的项目").input_value() == "judicial:J-1"
    # Only blanks: the browser lets it through, the service refuses it, nothing is lost.
    await page.get_by_label("哪里有误、正确的应是什么").fill("   ")
    await page.get_by_label("证明材料编号（可选）").fill("(2025)浙01执1号之一")
    await page.get_by_role("button", name="提交异议").click()
    await page.wait_for_load_state()
    assert "未能提交" in await page.locator("#dispute-message").inner_text()
    assert await page.locator("#statement-problem").is_visible()
    assert await page.get_by_label("证明材料编号（可选）").input_value() == "(2025)浙01执1号之一"
    assert await page.get_by_label("有误的项目").input_value() == "judicial:J-1"
    await page.get_by_label("哪里有误、正确的应是什么").fill(
        "该案已于2025年6月执行完毕，法院已将我司移出名单。"
    )
    await page.get_by_role("button", name="提交异议").click()
    await page.wait_for_load_state()
    assert "异议已提交" in await page.locator("#dispute-message").inner_text()
    dispute = page.locator("article.dispute")
    assert await dispute.count() == 1
    assert "待处理" in await dispute.inner_text()
    await _shot(page, "merchant-disputes")
    await _accessible_and_light(page, f"{site}/merchant/disputes")

    # A form posted without its CSRF token opens nothing.
    forged = await page.request.post(
        f"{site}/merchant/disputes",
        form={"item": "public.status", "statement": "伪造", "csrf_token": "guessed"},
    )
    assert forged.status == 403 and len(await rig.app.disputes.pending()) == 1

    # Every viewer sees the listing marked while it is under dispute.
    visitor = await browser.new_page()
    await visitor.goto(f"{site}/enterprises/{rig.uscc}")
    assert "司法与监管记录 J-1" in await visitor.locator("#under-dispute").inner_text()

    # Ops check it with the court, correct the record where it comes from (the judicial
    # import, which keeps the earlier version) and resolve the dispute as corrected.
    (pending,) = await rig.app.disputes.pending()
    name = f"enterprises/{rig.uscc}/disputes/{pending.id}"
    corrected = tmp_path / "judicial.jsonl"
    entry = {
        "uscc": rig.uscc, "entry_id": "J-1", "kind": "dishonest_debtor",
        "authority": "杭州市中级人民法院", "reason": "未履行", "listing_date": "2025-01-10",
        "removal_date": "2025-06-30", "expiry_date": "2027-01-10", "source": "court",
        "case_number": "(2025)浙01执1号",
    }  # fmt: skip
    corrected.write_text(json.dumps(entry, ensure_ascii=False) + "\n", encoding="utf-8")
    for command in (
        ("judicial", "import", str(corrected)),
        ("disputes", "take", name, "--assignee", "ops-zhang"),
        ("disputes", "resolve", name, "--corrected", "--reason", "经法院确认已移出名单，已更正"),
    ):
        result = await ops_command.run(*command)
        assert result.exit_code == 0, result.output

    await page.reload()
    assert "已更正" in await dispute.inner_text()
    assert "经法院确认已移出名单，已更正" in await dispute.locator(".answer").inner_text()
    await page.get_by_role("link", name="我的信用").first.click()
    await page.wait_for_load_state()
    assert await _score(page) > score_before  # the level was worked out again
    assert await page.locator("ol.reasons [href*='judicial%3AJ-1']").count() == 0
    await visitor.reload()
    assert await visitor.locator("#under-dispute").count() == 0
    history = await rig.app.disputes.of_enterprise(
        (await rig.app.credentials.create_caller(CallerKind.OPS, "ops"))[0], None,
        f"enterprises/{rig.uscc}",
    )  # fmt: skip
    assert [d.state.value for d in history] == ["corrected"]


async def test_a_merchant_asks_for_a_correction_and_withdraws_the_authorisation(
    rig: Rig, browser: Browser
) -> None:
    site = _site(rig)
    await _verified_by_the_platform(rig)
    page = await browser.new_page()
    token = rig.platform.token("owner", rig.clock.now(), merchant_uscc=rig.uscc)
    await _log_in(page, rig, site, token, "/merchant/requests")
    assert page.url == f"{site}/merchant/requests"
    await page.get_by_label("更正有误的信息").check()
    await page.get_by_label("申请内容（哪项信息、正确的应是什么，或为何删除）").fill(
        "住所应为浙江省杭州市西湖区文三路200号"
    )
    await page.get_by_role("button", name="提交申请").click()
    await page.wait_for_load_state()
    assert "72 小时内答复" in await page.locator("#request-message").inner_text()
    listed = page.locator("article.data-request")
    assert await listed.count() == 1 and "更正：待处理" in await listed.inner_text()
    await _accessible_and_light(page, f"{site}/merchant/requests")

    await page.goto(f"{site}/enterprises/{rig.uscc}")
    assert await page.get_by_role("rowheader", name="法定代表人").count() == 1
    await page.goto(f"{site}/merchant/requests")

    # The download with the legal representative unmasked: only with their identity proven.
    representative = rig.row["legal_representative"]
    await page.get_by_label("法定代表人姓名").fill(representative["name"])
    await page.get_by_label("法定代表人身份证号").fill("110105198005170000")
    await page.get_by_role("button", name="验证并下载").click()
    await page.wait_for_load_state()
    assert "不符" in await page.locator("#export-problem").inner_text()
    await page.get_by_label("法定代表人姓名").fill(representative["name"])
    await page.get_by_label("法定代表人身份证号").fill(representative["id_number"])
    async with page.expect_download() as info:
        await page.get_by_role("button", name="验证并下载").click()
    saved = SCREENSHOTS.parent / "enterprise-data-unmasked.json"
    await (await info.value).save_as(str(saved))
    exported = json.loads(saved.read_text(encoding="utf-8"))
    unmasked = {(v["field"], v["value"]) for v in exported["legal_representative_unmasked"]}
    assert ("id_number", representative["id_number"]) in unmasked
    assert ("name", representative["name"]) in unmasked
    saved.unlink()  # personal data: not kept among the test's artefacts

    # Withdrawing destroys the person's data: not without the box ticked, whatever the
    # browser lets through.
    csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    unticked = await page.request.post(
        f"{site}/merchant/requests", form={"kind": "withdrawal", "csrf_token": csrf or ""}
    )
    assert unticked.status == 400 and "请勾选确认" in await unticked.text()
    assert await rig.app.subject_keys.destroyed_since(rig.uscc) is None
    await page.get_by_label("我已了解撤回的后果，确认撤回授权").check()
    await page.get_by_role("button", name="撤回授权").click()
    await page.wait_for_load_state()
    assert "已停止处理并已销毁" in await page.locator("#request-message").inner_text()
    assert "撤回授权：已完成" in await page.locator("article.data-request").first.inner_text()
    await _shot(page, "merchant-data-requests")
    assert await rig.app.subject_keys.destroyed_since(rig.uscc) is not None

    # The merchant's archive leaves the legal representative out from now on.
    await page.goto(f"{site}/enterprises/{rig.uscc}")
    assert await page.get_by_role("rowheader", name="法定代表人").count() == 0


async def test_forms_refuse_a_post_without_their_csrf_token(rig: Rig, browser: Browser) -> None:
    site = _site(rig)
    page = await browser.new_page()
    await _log_in(page, rig, site, rig.platform.token("v", rig.clock.now()))
    forged = await page.request.post(f"{site}/logout", form={"csrf_token": "guessed"})
    assert forged.status == 403
    still = await page.goto(f"{site}/enterprises/{rig.uscc}")
    assert still is not None
    assert await page.locator("#tier").inner_text() == "查看身份：登录用户"  # not logged out
    # A login posted from elsewhere: no login cookie, no matching token.
    async with httpx.AsyncClient(base_url=site) as other:
        refused = await other.post(
            "/login",
            data={"token": rig.platform.token("v", rig.clock.now()), "csrf_token": "x"},
            headers={"Origin": "https://evil.example"},
        )
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
