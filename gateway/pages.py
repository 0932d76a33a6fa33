"""The pages: server-rendered, in Chinese, usable without JavaScript (none is served).

Who the visitor is comes from the session cookie (sessions.py), else the client address:
the same users the JSON API knows, and the service decides what each sees. Every POST
checks its CSRF token and Origin first. The service's errors become pages with the same
status codes the API uses (problems.py), and 429 and 503 keep their Retry-After.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from integrity.v1 import data_rights_pb2
from markupsafe import Markup

from clients import AsyncIntegrityClient
from clients.errors import FieldViolation, IntegrityCallError
from clients.ledger_verifier import check_listing
from gateway import wording
from gateway.addresses import client_address
from gateway.api import REQUEST_KINDS, exported
from gateway.disputable import disputable_items
from gateway.identity import EndUser, KeysUnavailable, TokenRejected, anonymous
from gateway.level_chart import level_chart, points_of
from gateway.problems import STATUS_OF, UNAVAILABLE_RETRY_SECONDS
from gateway.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    same_origin,
    tokens_match,
)
from gateway.times import in_china
from service.domain.data_requests import RESPONSE_HOURS
from service.domain.disputes import RESPONSE_DAYS
from service.domain.licence import CHINA_TZ
from service.domain.rfc3339 import parse_rfc3339

PAGE_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_USCC_SHAPE = re.compile(r"[0-9A-Za-z]{18}")
CHART_LEVELS = 200
"""The newest levels the merchant's chart draws."""
_ERROR_TITLES = {
    400: "请求有误",
    401: "需要登录",
    403: "无权查看",
    404: "未找到",
    409: "无法完成",
    429: "访问过于频繁",
    503: "服务暂不可用",
}

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _date(value: Any) -> str:
    if not isinstance(value, dict) or not value.get("year"):
        return ""
    return f"{value['year']}年{value.get('month', 0)}月{value.get('day', 0)}日"


def _when(value: Any) -> str:
    """An RFC 3339 time as China reads it (UTC+8), to the second."""
    moment = parse_rfc3339(value)
    if moment is None:
        return str(value or "")
    return in_china(moment, "%Y-%m-%d %H:%M:%S")


templates.env.globals.update(words=wording, date=_date, when=_when, china=CHINA_TZ)


def _session(request: Request) -> Session | None:
    state = request.app.state
    session: Session | None = state.sessions.decode(
        request.cookies.get(SESSION_COOKIE), state.clock.now()
    )
    return session


def _visitor(request: Request, session: Session | None) -> EndUser:
    if session is not None:
        return session.user
    peer = request.client.host if request.client is not None else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return anonymous(client_address(peer, forwarded, request.app.state.settings.trusted_proxies))


def _client(request: Request, user: EndUser) -> AsyncIntegrityClient:
    client: AsyncIntegrityClient = request.app.state.upstream.for_user(user)
    return client


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: Session | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    user = session.user if session is not None else EndUser("anonymous", "")
    csrf = session.csrf_token(request.app.state.sessions.key) if session is not None else ""
    response = templates.TemplateResponse(
        request,
        template,
        {**context, "user": user, "csrf_token": csrf},
        status_code=status,
        headers={"Content-Security-Policy": PAGE_SECURITY_POLICY, **(headers or {})},
    )
    if session is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(
    request: Request, error: IntegrityCallError, session: Session | None
) -> HTMLResponse:
    status = STATUS_OF.get(error.code, 502)
    headers = {}
    if status in (429, 503):
        wait = error.retry_after_seconds or UNAVAILABLE_RETRY_SECONDS
        headers["Retry-After"] = str(max(1, round(wait)))
    message = {
        404: "没有找到该企业的档案，请核对统一社会信用代码或企业登记名称。",
        403: "您无权查看这些内容。",
        429: "访问过于频繁，请稍后再试。",
        503: "服务暂时不可用，请稍后再试。",
    }.get(status, error.message if status < 500 else "服务暂时无法应答，请稍后再试。")
    context = {
        "title": _ERROR_TITLES.get(status, "出错了"),
        "message": message,
        "violations": error.field_violations if status == 400 else (),
        "request_id": error.request_id,
    }
    return _page(request, "error.html", context, session=session, status=status, headers=headers)


def _safe_next(target: str) -> str:
    """Only a path of this site: never another host (an open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form_accepted(request: Request, expected: str | None, sent: str) -> bool:
    """A form's POST is taken only with its CSRF token, and not from another site."""
    return tokens_match(expected, sent) and same_origin(request.headers, request.url.scheme)


def _refused(request: Request, session: Session | None) -> HTMLResponse:
    context = {"title": "请求无效", "message": "表单已过期或来源不明，请返回重试。"}
    return _page(request, "error.html", context, session=session, status=403)


@router.get("/")
async def home(request: Request) -> Response:
    return _page(request, "home.html", {"query": "", "message": ""}, session=_session(request))


@router.get("/search")
async def search(request: Request, q: str = "") -> Response:
    session = _session(request)
    query = q.strip()
    if not query:
        return RedirectResponse("/", status_code=303)
    if _USCC_SHAPE.fullmatch(query):
        return RedirectResponse(f"/enterprises/{query.upper()}", status_code=303)
    try:
        archive = await _client(request, _visitor(request, session)).lookup_archive(query[:200])
    except IntegrityCallError as error:
        if STATUS_OF.get(error.code) == 404:
            context = {"query": query, "message": "没有找到登记名称完全一致的企业。"}
            return _page(request, "home.html", context, session=session, status=404)
        return _error_page(request, error, session)
    uscc = archive.public_information.uscc
    return RedirectResponse(f"/enterprises/{urllib.parse.quote(uscc)}", status_code=303)


@router.get("/enterprises/{uscc}")
async def archive_page(request: Request, uscc: str) -> Response:
    session = _session(request)
    try:
        archive = await _client(request, _visitor(request, session)).get_archive(uscc)
    except IntegrityCallError as error:
        return _error_page(request, error, session)
    return _page(request, "archive.html", {"archive": MessageToDict(archive)}, session=session)


def _login_form(request: Request, message: str, next_path: str, status: int = 200) -> Response:
    nonce = request.app.state.sessions.login_nonce()
    context = {"message": message, "next": next_path, "login_csrf": nonce}
    response = _page(request, "login.html", context, session=None, status=status)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, nonce, max_age=1800, httponly=True, secure=True, samesite="lax"
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    return _login_form(request, "", _safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=8192)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    state = request.app.state
    if not _form_accepted(request, request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _refused(request, None)
    try:
        user = await state.verifier.verify(token.strip())
    except TokenRejected:
        return _login_form(request, "登录令牌无效或已过期，请重新获取。", _safe_next(next), 401)
    except KeysUnavailable:
        return _login_form(request, "暂时无法核验令牌，请稍后再试。", _safe_next(next), 503)
    session = state.sessions.new(user, state.clock.now())
    target = (
        "/merchant" if user.kind == "merchant" and _safe_next(next) == "/" else _safe_next(next)
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        state.sessions.encode(session),
        max_age=int((session.expires - state.clock.now()).total_seconds()),
        httponly=True,
        secure=True,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, secure=True, httponly=True, samesite="lax")
    return response


@router.post("/logout")
async def logout(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    session = _session(request)
    if session is None:
        return RedirectResponse("/", status_code=303)
    if not _form_accepted(request, session.csrf_token(request.app.state.sessions.key), csrf_token):
        return _refused(request, session)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, secure=True, httponly=True, samesite="lax")
    return response


def _merchant_session(request: Request) -> Session | Response:
    session = _session(request)
    if session is None or session.user.kind != "merchant":
        return RedirectResponse(f"/login?next={urllib.parse.quote(request.url.path)}", 303)
    return session


@router.get("/merchant")
async def merchant_page(request: Request) -> Response:
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    uscc = str(session.user.merchant_uscc)
    client = _client(request, session.user)
    try:
        archive = await client.get_archive(uscc)
        levels = await client.list_integrity_levels(uscc, page_size=CHART_LEVELS)
    except IntegrityCallError as error:
        return _error_page(request, error, session)
    points = points_of([MessageToDict(level) for level in levels])
    context = {
        "archive": MessageToDict(archive),
        # Built of escaped parts only (level_chart.py): the levels are the service's data.
        "chart": Markup(level_chart(points)),  # noqa: S704
        "points": list(reversed(points))[:10],
    }
    return _page(request, "merchant.html", context, session=session)


async def _merchant_listing(
    request: Request,
    page_token: str,
    template: str,
    fetch: Callable[[AsyncIntegrityClient, str, str], Awaitable[Message]],
    extra: Callable[[dict[str, Any]], dict[str, Any]] = lambda _document: {},
) -> Response:
    """One page of the merchant's own listing (its verifications, its disclosures)."""
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    uscc = str(session.user.merchant_uscc)
    try:
        listing = await fetch(_client(request, session.user), uscc, page_token[:1024])
    except IntegrityCallError as error:
        return _error_page(request, error, session)
    document = MessageToDict(listing)
    context = {"page": document, "listing": document, "uscc": uscc, **extra(document)}
    return _page(request, template, context, session=session)


@router.get("/merchant/verifications")
async def verifications_page(request: Request, page_token: str = "") -> Response:
    return await _merchant_listing(
        request,
        page_token,
        "verifications.html",
        lambda client, uscc, token: client.list_verifications(uscc, page_token=token),
    )


async def _disputes_page(
    request: Request,
    session: Session,
    *,
    chosen: str = "",
    form: Mapping[str, str] | None = None,
    message: str = "",
    violations: Sequence[FieldViolation] = (),
    status: int = 200,
) -> Response:
    uscc = str(session.user.merchant_uscc)
    client = _client(request, session.user)
    try:
        archive = MessageToDict(await client.get_archive(uscc))
        disputes = [MessageToDict(d) for d in await client.list_disputes(uscc)]
    except IntegrityCallError as error:
        return _error_page(request, error, session)
    items = disputable_items(archive)
    under = set(archive.get("underDispute") or [])
    context = {
        "disputes": disputes,
        "items": [(item, label, item in under) for item, label in items],
        "chosen": chosen,
        "form": form or {},
        "message": message,
        "refused": status >= 400,
        "problems": {v.field: v.description for v in violations},
        "response_days": RESPONSE_DAYS,
    }
    return _page(request, "disputes.html", context, session=session, status=status)


@router.get("/merchant/disputes")
async def disputes_page(request: Request, item: str = "", opened: str = "") -> Response:
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    message = "异议已提交，我们将在规定期限内核查并答复。" if opened else ""
    return await _disputes_page(request, session, chosen=item[:128], message=message)


@router.post("/merchant/disputes")
async def open_dispute(
    request: Request,
    item: Annotated[str, Form(max_length=128)] = "",
    statement: Annotated[str, Form(max_length=4000)] = "",
    evidence: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    if not _form_accepted(request, session.csrf_token(request.app.state.sessions.key), csrf_token):
        return _refused(request, session)
    client = _client(request, session.user)
    uscc = str(session.user.merchant_uscc)
    form = {"statement": statement, "evidence": evidence}
    try:
        dispute = await client.create_dispute(uscc, item, statement, evidence)
    except IntegrityCallError as error:
        status = STATUS_OF.get(error.code, 502)
        if status == 400:
            return await _disputes_page(
                request, session, chosen=item, form=form, status=400,
                message="异议未能提交，请按提示修改。", violations=error.field_violations,
            )  # fmt: skip
        if error.reason == "DISPUTE_ALREADY_OPEN":
            return await _disputes_page(
                request, session, chosen=item, form=form, status=409,
                message="该项已有待答复的异议，请等待核查结果后再提交。",
            )  # fmt: skip
        return _error_page(request, error, session)
    opened = urllib.parse.quote(dispute.name.rsplit("/", 1)[-1])
    # Post/redirect/get: reloading the page asks nothing again.
    return RedirectResponse(f"/merchant/disputes?opened={opened}", status_code=303)


async def _requests_page(
    request: Request,
    session: Session,
    *,
    form: Mapping[str, str] | None = None,
    message: str = "",
    problems: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    uscc = str(session.user.merchant_uscc)
    try:
        found = await _client(request, session.user).list_data_requests(uscc)
    except IntegrityCallError as error:
        return _error_page(request, error, session)
    context = {
        "requests": [MessageToDict(r) for r in found],
        "form": form or {},
        "message": message,
        "refused": status >= 400,
        "problems": problems or {},
        "response_hours": RESPONSE_HOURS,
    }
    return _page(request, "data_requests.html", context, session=session, status=status)


@router.get("/merchant/requests")
async def requests_page(request: Request, made: str = "") -> Response:
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    message = {
        "withdrawal": "授权已撤回，法定代表人的个人信息已停止处理并已销毁。",
        "request": "申请已提交，我们将在 72 小时内答复。",
    }.get(made, "")
    return await _requests_page(request, session, message=message)


@router.post("/merchant/requests")
async def make_request(
    request: Request,
    kind: Annotated[str, Form(max_length=32)] = "",
    statement: Annotated[str, Form(max_length=4000)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    if not _form_accepted(request, session.csrf_token(request.app.state.sessions.key), csrf_token):
        return _refused(request, session)
    form = {"kind": kind, "statement": statement}
    if kind == "withdrawal" and confirm != "yes":
        # Destroys the person's data for good: only with the box ticked.
        return await _requests_page(
            request, session, form=form, status=400, message="撤回授权前请勾选确认。",
            problems={"confirm": "请确认您已了解撤回的后果。"},
        )  # fmt: skip
    chosen = REQUEST_KINDS.get(kind, data_rights_pb2.DATA_REQUEST_KIND_UNSPECIFIED)
    uscc = str(session.user.merchant_uscc)
    try:
        await _client(request, session.user).create_data_request(uscc, chosen, statement)
    except IntegrityCallError as error:
        if STATUS_OF.get(error.code) != 400:
            return _error_page(request, error, session)
        problems = {v.field: v.description for v in error.field_violations}
        return await _requests_page(
            request, session, form=form, status=400, problems=problems,
            message="申请未能提交，请按提示修改。",
        )  # fmt: skip
    made = "withdrawal" if kind == "withdrawal" else "request"
    return RedirectResponse(f"/merchant/requests?made={made}", status_code=303)


@router.post("/merchant/export")
async def export_unmasked(
    request: Request,
    name: Annotated[str, Form(max_length=64)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Everything held, the legal representative unmasked, for a form that proves who
    they are; the page again with the service's refusal otherwise."""
    session = _merchant_session(request)
    if isinstance(session, Response):
        return session
    if not _form_accepted(request, session.csrf_token(request.app.state.sessions.key), csrf_token):
        return _refused(request, session)
    try:
        return await exported(request, session.user, str(session.user.merchant_uscc),
                              (name, id_number))  # fmt: skip
    except IntegrityCallError as error:
        status = STATUS_OF.get(error.code, 502)
        message = {
            "IDENTITY_NOT_PROVEN": "姓名或身份证号与本服务保存的法定代表人信息不符。",
            "IDENTITY_PROOF_ATTEMPTS_EXCEEDED": "验证失败次数过多，请 24 小时后再试。",
            "PERSONAL_DATA_DESTROYED": "法定代表人的信息已因撤回授权或删除而销毁，无可下载的内容。",
        }.get(error.reason)
        if message is None and status != 400:
            return _error_page(request, error, session)
        headers = {}
        if error.retry_after_seconds:
            headers["Retry-After"] = str(max(1, round(error.retry_after_seconds)))
        problems = {"export": message or "请填写法定代表人的姓名和身份证号。"}
        page = await _requests_page(
            request, session, status=status, problems=problems, message=problems["export"]
        )
        page.headers.update(headers)
        return page


@router.get("/merchant/disclosures")
async def disclosures_page(request: Request, page_token: str = "") -> Response:
    verifier = request.app.state.settings.ledger_verifier

    def checked(document: dict[str, Any]) -> dict[str, Any]:
        return {"check": check_listing(document, verifier) if verifier is not None else None}

    return await _merchant_listing(
        request,
        page_token,
        "disclosures.html",
        lambda client, uscc, token: client.list_disclosures(uscc, page_token=token),
        checked,
    )
