"""Alibaba Cloud SMS (dysmsapi, version 2017-05-25), over plain HTTP (no SDK).

Every call is a signed RPC call: ``POST {base_url}/`` with a form of the action's own
parameters and the common ones, ``Action``, ``Version=2017-05-25``, ``Format=JSON``,
``AccessKeyId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureVersion=1.0``, a fresh
``SignatureNonce``, ``Timestamp`` (UTC, ``2017-07-12T02:42:19Z``) and ``Signature``: the
base64 HMAC-SHA1, keyed with the AccessKey secret followed by ``&``, of
``POST&%2F&`` + the percent-encoded canonical query (every other parameter sorted by
name, ``name=value`` joined by ``&``, names and values percent-encoded as UTF-8 with
only ``A-Z a-z 0-9 - _ . ~`` left as they are). POST rather than GET keeps message text
out of URLs, which proxies log.

Send: ``Action=SendSms`` with ``PhoneNumbers`` (the E.164 digits, no ``+``),
``SignName``, ``TemplateCode``, ``TemplateParam`` (JSON: the template variable
``template_param_name`` carries the whole text; an OTP message sent with an
``otp_template_code`` puts only its code, the first run of 4 to 10 digits in the text,
in ``otp_param_name``) and ``OutId`` (our sms_id). The answer's ``Code`` is ``OK``
with a ``BizId``, or an error code: business errors come with HTTP 200, the API
gateway's own (signature, throttling) with 4xx/5xx, in the same JSON shape. ``ERRORS``
says which codes are retried.

Sign names and templates pass Aliyun's review before anything sends with them:
``add_sign``/``query_sign`` (AddSmsSign/QuerySmsSign) and ``add_template``/
``query_template`` (AddSmsTemplate/QuerySmsTemplate) return a ``Review``; ``check()``
reports the configured sign name's.

Receipts: Aliyun's "HTTP batch push" of SmsReport POSTs a JSON array of reports
(``biz_id``, ``out_id``, ``success``, ``err_code``, ``err_msg``, ``report_time`` in
Beijing time, ...) to the one URL set in its console, without any signature. That URL
must carry ``?token=<callback_token>``, a shared secret and the only proof of origin
(docs/decisions.md); without a configured token every receipt is refused. Aliyun
expects ``{"code": 0, "msg": "成功"}`` back.

| report ``success`` | smsgate |
|---|---|
| true | delivered |
| false | undelivered, ``error_code: aliyun_<err_code>`` |
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from pydantic import SecretStr

from smsgate.vendors.base import (
    CallbackRequest,
    InvalidCallback,
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    TransientVendorError,
    VendorError,
    VendorEvent,
)
from smsgate.vendors.http import HttpVendor

API_VERSION = "2017-05-25"
# An answer's ``Code`` → our error code when it is worth retrying, or None when it fails
# the message at once (as ``aliyun_<Code>``, like every code not listed here).
ERRORS: dict[str, str | None] = {
    # Throttling: the per-number flow control (for the same number and sign name:
    # 1 a minute, 5 an hour, 10 a day), the account's daily limit, the API's rate.
    "isv.BUSINESS_LIMIT_CONTROL": "vendor_throttled",
    "isv.DAY_LIMIT_CONTROL": "vendor_throttled",
    "Throttling": "vendor_throttled",
    "Throttling.User": "vendor_throttled",
    "Throttling.Api": "vendor_throttled",
    # Aliyun's own trouble.
    "ServiceUnavailable": "vendor_unavailable",
    "InternalError": "vendor_unavailable",
    "isp.SYSTEM_ERROR": "vendor_unavailable",
    "isp.GATEWAY_ERROR": "vendor_unavailable",
    "SignatureNonceUsed": "vendor_unavailable",
    # The account or its keys: an operator's fix, not a reason to fail every message.
    "InvalidAccessKeyId.NotFound": "vendor_auth_failed",
    "InvalidAccessKeyId.Inactive": "vendor_auth_failed",
    "SignatureDoesNotMatch": "vendor_auth_failed",
    "isp.RAM_PERMISSION_DENY": "vendor_auth_failed",
    "InvalidTimeStamp.Expired": "vendor_clock_skew",
    "isv.AMOUNT_NOT_ENOUGH": "vendor_account",
    "isv.OUT_OF_SERVICE": "vendor_account",
    "isv.PRODUCT_UN_SUBSCRIPT": "vendor_account",
    "isv.ACCOUNT_NOT_EXISTS": "vendor_account",
    "isv.ACCOUNT_ABNORMAL": "vendor_account",
    # The message itself, or a sign name or template that is not approved.
    "isv.MOBILE_NUMBER_ILLEGAL": None,
    "isv.MOBILE_COUNT_OVER_LIMIT": None,
    "isv.SMS_SIGNATURE_ILLEGAL": None,
    "isv.SMS_TEMPLATE_ILLEGAL": None,
    "isv.TEMPLATE_MISSING_PARAMETERS": None,
    "isv.INVALID_PARAMETERS": None,
    "isv.INVALID_JSON_PARAM": None,
    "isv.BLACK_KEY_CONTROL_LIMIT": None,
    "isv.PARAM_LENGTH_LIMIT": None,
    "isv.PARAM_NOT_SUPPORT_URL": None,
}
RECEIPT_STATES: dict[bool, Literal["delivered", "undelivered"]] = {
    True: "delivered",
    False: "undelivered",
}
ReviewStatus = Literal["pending", "approved", "rejected", "canceled"]
REVIEW_STATUSES: dict[int, ReviewStatus] = {
    0: "pending",
    1: "approved",
    2: "rejected",
    10: "canceled",
}
OTP_CODE = re.compile(r"(?<!\d)\d{4,10}(?!\d)")
BEIJING = timezone(timedelta(hours=8))
CALLBACK_ANSWER = {"code": 0, "msg": "成功"}


def percent_encode(value: str) -> str:
    """Aliyun's encoding: UTF-8, everything but ``A-Z a-z 0-9 - _ . ~`` as ``%XY``."""
    return quote(value, safe="")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    key = f"{secret}&".encode()
    digest = hmac.new(key, string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Review:
    """Where Aliyun's review of a sign name or a template stands."""

    name: str
    """The sign name, or the template code."""
    status: ReviewStatus
    reason: str | None = None
    """Why it was rejected (Aliyun's words); None unless rejected or canceled."""


class AliyunVendor(HttpVendor):
    kind: ClassVar[str] = "aliyun"
    repr_fields: ClassVar[tuple[str, ...]] = ("access_key_id",)

    def __init__(
        self,
        name: str,
        *,
        access_key_id: str,
        access_key_secret: SecretStr,
        sign_name: str,
        template_code: str,
        template_param_name: str = "content",
        otp_template_code: str | None = None,
        otp_param_name: str = "code",
        callback_token: SecretStr | None = None,
        callback_url: str | None = None,
        base_url: str = "https://dysmsapi.aliyuncs.com",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        # callback_url is not sent with messages: Aliyun pushes receipts to the one URL set
        # in its console, which is this one followed by ``?token=<callback_token>``.
        super().__init__(name, http, timeout, base_url=base_url, callback_url=callback_url)
        self.access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.template_param_name = template_param_name
        self.otp_template_code = otp_template_code
        self.otp_param_name = otp_param_name
        self._callback_token = callback_token

    def signed(self, action: str, params: Mapping[str, str]) -> dict[str, str]:
        """``params`` with the common parameters of an RPC call and its signature."""
        form = {
            **params,
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        form["Signature"] = rpc_signature(self._access_key_secret.get_secret_value(), "POST", form)
        return form

    async def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One signed RPC call; its answer when ``Code`` is ``OK``, else a VendorError."""
        response = await self.request("POST", f"{self.base_url}/", data=self.signed(action, params))
        self.check_response(response, self._client_error)
        try:
            body = response.json()
            code = str(body["Code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientVendorError(
                "vendor_bad_answer", f"Aliyun answered {action} without a Code"
            ) from exc
        if code != "OK":
            raise self._error(code, body.get("Message"))
        return dict(body)

    async def send(self, message: OutboundMessage) -> Submitted:
        template, variable, value = self.template_code, self.template_param_name, message.body
        if message.kind == "otp" and self.otp_template_code:
            found = OTP_CODE.search(message.body)
            if found is None:
                raise PermanentVendorError(
                    "aliyun_otp_code_missing", "no 4 to 10 digit code in the OTP text"
                )
            template, variable, value = self.otp_template_code, self.otp_param_name, found[0]
        answer = await self.call(
            "SendSms",
            {
                "PhoneNumbers": message.to.lstrip("+"),
                "SignName": self.sign_name,
                "TemplateCode": template,
                "TemplateParam": json.dumps({variable: value}, ensure_ascii=False),
                "OutId": message.sms_id,
            },
        )
        if not answer.get("BizId"):
            raise TransientVendorError("vendor_bad_answer", "Aliyun answered without a BizId")
        return Submitted(str(answer["BizId"]))

    async def add_sign(
        self,
        sign_name: str,
        *,
        source: int,
        remark: str,
        files: Sequence[tuple[str, bytes]] = (),
        sign_type: int | None = None,
    ) -> Review:
        """Apply for a sign name (AddSmsSign). ``source``: 0 enterprise or institution,
        1 MIIT-registered website, 2 app, 3 official account or mini program, 4
        e-commerce store, 5 trademark; ``files``: (suffix, content) of the proofs, e.g.
        ``("png", b"...")``; ``sign_type``: 0 verification codes, 1 general."""
        params = {"SignName": sign_name, "SignSource": str(source), "Remark": remark}
        if sign_type is not None:
            params["SignType"] = str(sign_type)
        for i, (suffix, content) in enumerate(files, start=1):
            params[f"SignFileList.{i}.FileSuffix"] = suffix
            params[f"SignFileList.{i}.FileContents"] = base64.b64encode(content).decode()
        answer = await self.call("AddSmsSign", params)
        return Review(str(answer.get("SignName") or sign_name), "pending")

    async def query_sign(self, sign_name: str | None = None) -> Review:
        """The review of a sign name (QuerySmsSign); the configured one by default."""
        answer = await self.call("QuerySmsSign", {"SignName": sign_name or self.sign_name})
        return self._review(
            str(answer.get("SignName") or sign_name or self.sign_name), answer, "SignStatus"
        )

    async def add_template(
        self, *, name: str, content: str, remark: str, template_type: int
    ) -> Review:
        """Apply for a template (AddSmsTemplate); its ``name`` is the new template code.
        ``template_type``: 0 verification code, 1 notification, 2 promotion, 3 messages
        outside the Chinese mainland. Variables are written ``${name}``."""
        answer = await self.call(
            "AddSmsTemplate",
            {
                "TemplateType": str(template_type),
                "TemplateName": name,
                "TemplateContent": content,
                "Remark": remark,
            },
        )
        if not answer.get("TemplateCode"):
            raise TransientVendorError(
                "vendor_bad_answer", "Aliyun answered without a TemplateCode"
            )
        return Review(str(answer["TemplateCode"]), "pending")

    async def query_template(self, template_code: str | None = None) -> Review:
        """The review of a template (QuerySmsTemplate); the configured one by default."""
        code = template_code or self.template_code
        answer = await self.call("QuerySmsTemplate", {"TemplateCode": code})
        return self._review(str(answer.get("TemplateCode") or code), answer, "TemplateStatus")

    @staticmethod
    def _review(name: str, answer: Mapping[str, Any], field: str) -> Review:
        try:
            status = REVIEW_STATUSES[int(answer[field])]
        except (KeyError, ValueError, TypeError) as exc:
            raise TransientVendorError(
                "vendor_bad_answer", f"Aliyun answered an unknown {field}: {answer.get(field)!r}"
            ) from exc
        reason = str(answer.get("Reason") or "") or None
        return Review(name, status, reason if status in ("rejected", "canceled") else None)

    async def check(self) -> str:
        """Query the configured sign name's review: proves the URL and the keys, and says
        whether sends can pass (a rejected or canceled sign name fails the check)."""
        review = await self.query_sign()
        if review.status in ("rejected", "canceled"):
            raise PermanentVendorError(
                f"aliyun_sign_{review.status}",
                f"sign name {review.name} is {review.status}: {review.reason or 'no reason given'}",
            )
        receipts = "" if self._callback_token else "; receipts refused (no callback_token)"
        return f"sign {review.name}: {review.status}{receipts}"

    def _error(self, code: str, message: Any) -> VendorError:
        # A signature mismatch echoes the whole string to sign, message text included.
        text = str(message or code).split(" server string to sign", 1)[0][:200]
        ours = ERRORS.get(code)
        if ours is not None:
            return TransientVendorError(ours, f"Aliyun {code}: {text}")
        return PermanentVendorError(f"aliyun_{code}", text)

    def _client_error(self, response: httpx.Response) -> VendorError:
        try:
            body = response.json()
            code, message = str(body["Code"]), body.get("Message")
        except (ValueError, KeyError, TypeError):
            code, message = "", response.text
        status = response.status_code
        if status in (401, 403) and code not in ERRORS:
            return TransientVendorError(
                "vendor_auth_failed", f"Aliyun refused the keys ({code or status})"
            )
        if code:
            return self._error(code, message)
        return PermanentVendorError(f"aliyun_http_{status}", str(message)[:200] or "rejected")

    def parse_callback(self, request: CallbackRequest) -> list[VendorEvent]:
        if self._callback_token is None:
            raise InvalidCallback("no callback_token configured: receipts refused")
        token = dict(parse_qsl(urlsplit(request.url).query)).get("token", "")
        if not hmac.compare_digest(
            token.encode(), self._callback_token.get_secret_value().encode()
        ):
            raise InvalidCallback("missing or wrong token")
        try:
            reports = json.loads(request.body)
        except ValueError as exc:
            raise InvalidCallback("body is not JSON") from exc
        if isinstance(reports, dict):
            reports = [reports]
        if not isinstance(reports, list):
            raise InvalidCallback("body is not a list of reports")
        return [event for report in reports if (event := self._event(report)) is not None]

    @staticmethod
    def _event(report: Any) -> VendorEvent | None:
        if not isinstance(report, dict) or not report.get("biz_id"):
            return None
        success = report.get("success")
        if isinstance(success, str):
            success = {"true": True, "false": False}.get(success.lower())
        if not isinstance(success, bool):
            return None
        try:
            when = datetime.strptime(str(report.get("report_time")), "%Y-%m-%d %H:%M:%S")
            occurred_at: datetime | None = when.replace(tzinfo=BEIJING).astimezone(UTC)
        except ValueError:
            occurred_at = None
        error_code = error_message = None
        if not success:
            code = str(report.get("err_code") or "UNKNOWN")
            error_code, error_message = f"aliyun_{code}", str(report.get("err_msg") or code)
        return VendorEvent(
            kind="receipt",
            state=RECEIPT_STATES[success],
            vendor_message_id=str(report["biz_id"]),
            error_code=error_code,
            error_message=error_message,
            occurred_at=occurred_at,
        )

    def callback_answer(self, received: int) -> dict[str, Any]:
        return dict(CALLBACK_ANSWER)
