"""The pages' words: the service's codes and enum names, as a Chinese reader knows them.

Codes the table does not know are shown as they are: a new code never breaks a page.
"""

from __future__ import annotations

TIERS = {
    "VIEWER_TIER_ANONYMOUS": "访客（公示信息）",
    "VIEWER_TIER_LOGGED_IN": "登录用户",
    "VIEWER_TIER_MERCHANT": "本企业商户",
    "VIEWER_TIER_PLATFORM": "平台",
    "VIEWER_TIER_OPS": "运营",
}
STATUSES = {
    "REGISTRATION_STATUS_IN_BUSINESS": "存续（在业）",
    "REGISTRATION_STATUS_MOVED_OUT": "迁出",
    "REGISTRATION_STATUS_CANCELLED": "注销",
    "REGISTRATION_STATUS_REVOKED": "吊销",
    "REGISTRATION_STATUS_WITHDRAWN": "撤销",
    "REGISTRATION_STATUS_SUSPENDED": "停业",
    "REGISTRATION_STATUS_IN_LIQUIDATION": "清算",
}
JUDICIAL_KINDS = {
    "JUDICIAL_ENTRY_KIND_DISHONEST_DEBTOR": "失信被执行人",
    "JUDICIAL_ENTRY_KIND_ABNORMAL_OPERATIONS": "经营异常名录",
    "JUDICIAL_ENTRY_KIND_SERIOUS_VIOLATION": "严重违法失信名单",
    "JUDICIAL_ENTRY_KIND_ADMINISTRATIVE_PENALTY": "行政处罚",
}
CONDUCT_KINDS = {
    "CONDUCT_KIND_DISPUTE": "交易纠纷",
    "CONDUCT_KIND_COMPLAINT": "投诉",
    "CONDUCT_KIND_PUNISHMENT": "平台处罚",
}
SEVERITIES = {
    "SEVERITY_MINOR": "轻微",
    "SEVERITY_MODERATE": "一般",
    "SEVERITY_SERIOUS": "严重",
    "SEVERITY_SEVERE": "特别严重",
}
STORE_STATUSES = {
    "STORE_STATUS_OPEN": "营业中",
    "STORE_STATUS_SUSPENDED": "暂停",
    "STORE_STATUS_CLOSED": "已关闭",
}
FACTORS = {
    "IDENTITY_VERIFICATION": "身份认证",
    "BUSINESS_STATUS": "登记状态与执照",
    "ESTABLISHMENT_YEARS": "成立年限",
    "REGISTERED_CAPITAL": "注册资本",
    "JUDICIAL_ENTRIES": "司法与监管记录",
    "PLATFORM_HISTORY": "平台经营历史",
    "CONDUCT": "经营行为",
    "ONSITE_CERTIFICATION": "实地认证",
}
_ADVICE_PREFIXES = {
    "complete identity verification": "完成身份认证",
    "renew identity verification": "重新进行身份认证",
    "verify again with the legal representative's authorisation": (
        "在法定代表人授权覆盖信用等级后重新认证"
    ),
    "restore business status and licence": "恢复正常登记状态与有效执照",
    "resolve the active listings": "解除仍在公示期内的名单记录",
    "build a trading history on a platform": "在平台上积累经营记录",
    "build a longer trading history": "积累更长的经营记录",
    "reduce disputes, complaints and punishments": "减少交易纠纷、投诉和处罚",
    "obtain an on-site certification": "取得实地认证",
}
RECIPIENT_KINDS = {"platform": "平台", "gateway": "网关（本站用户）", "ops": "运营"}
FIELD_GROUPS = {
    "public.identity": "登记信息",
    "public.status": "登记状态",
    "public.legal_representative": "法定代表人（遮蔽）",
    "public.capital": "注册资本",
    "public.business_scope": "经营范围",
    "public.shareholders": "股东",
    "public.changes": "变更记录",
    "public.judicial": "司法与监管记录",
    "business_integrity": "经营信用档案",
    "integrity_level": "信用等级",
    "eligibility_decision": "准入结论",
    "verification.outcome": "认证结论",
    "verification.field_checks": "认证逐项结果",
}


def named(table: dict[str, str], code: str) -> str:
    return table.get(code, code)


def advice(text: str) -> str:
    for prefix, chinese in _ADVICE_PREFIXES.items():
        if text.startswith(prefix):
            rest = text[len(prefix) :].lstrip(": ")
            return f"{chinese}：{rest}" if rest else chinese
    return text


OUTCOMES = {
    "VERIFICATION_OUTCOME_VERIFIED": "认证通过",
    "VERIFICATION_OUTCOME_REJECTED": "认证未通过",
    "VERIFICATION_OUTCOME_PENDING": "待登记机关答复",
}
FIELD_RESULTS = {
    "FIELD_CHECK_RESULT_MATCH": "一致",
    "FIELD_CHECK_RESULT_MISMATCH": "不一致",
    "FIELD_CHECK_RESULT_NOT_AVAILABLE": "无法核对",
}
DISPUTE_STATES = {
    "DISPUTE_STATE_OPEN": "待处理",
    "DISPUTE_STATE_IN_REVIEW": "核查中",
    "DISPUTE_STATE_CORRECTED": "已更正",
    "DISPUTE_STATE_REJECTED": "未予更正",
}
REQUEST_KINDS = {
    "DATA_REQUEST_KIND_CORRECTION": "更正",
    "DATA_REQUEST_KIND_DELETION": "删除",
    "DATA_REQUEST_KIND_WITHDRAWAL": "撤回授权",
}
REQUEST_STATES = {
    "DATA_REQUEST_STATE_OPEN": "待处理",
    "DATA_REQUEST_STATE_IN_PROGRESS": "处理中",
    "DATA_REQUEST_STATE_COMPLETED": "已完成",
    "DATA_REQUEST_STATE_REFUSED": "未予办理",
}
TRIGGERS = {
    "create": "提交认证",
    "pending_recheck": "待答复复核",
    "batch": "批量复核",
    "personal_data_destroyed": "授权撤回，个人信息已销毁",
}


def disputed(item: str) -> str:
    """A disputed item as a reader knows it: a field group or the level by name, a record
    by its kind and id."""
    if item == "integrity_level":
        return "信用等级"
    if item in FIELD_GROUPS:
        return FIELD_GROUPS[item]
    kind, _, rest = item.partition(":")
    names = {"judicial": "司法与监管记录", "conduct": "经营行为记录", "certification": "认证记录",
             "verification": "身份认证"}  # fmt: skip
    return f"{names.get(kind, kind)} {rest}"
