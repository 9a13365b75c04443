"""A local fake of Alibaba Cloud SMS (dysmsapi 2017-05-25), served over real HTTP on loopback.

One endpoint, ``/``, takes RPC calls by GET (query) or POST (form). Like Aliyun's API
gateway it checks the common parameters and the signature first (``Missing<Name>``,
``InvalidAccessKeyId.NotFound``, ``InvalidTimeStamp.Expired``, ``SignatureDoesNotMatch``
with the server's string to sign, ``SignatureNonceUsed``), then runs ``SendSms``,
``AddSmsSign``, ``QuerySmsSign``, ``AddSmsTemplate`` and ``QuerySmsTemplate`` against a
small store of sign names and templates with their review status (business errors
come with HTTP 200 and their ``Code``). The signature is computed here byte by byte,
independently of ``smsgate.vendors.aliyun``.

It also plays the receipt side: ``push`` POSTs SmsReport receipts (a JSON array) to
``push_url``, the one URL an operator sets in Aliyun's console.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.loopback import Faults, LoopbackServer

UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
COMMON = (
    "AccessKeyId",
    "Action",
    "Format",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
)
VARYING = ("Signature", "SignatureNonce", "Timestamp")
"""Common parameters that differ on every call, left out of ``received``."""
MAX_SKEW = timedelta(minutes=15)


def encode(text: str) -> str:
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode())


def string_to_sign(method: str, params: dict[str, str]) -> str:
    pairs = sorted((encode(k), encode(v)) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{method}&{encode('/')}&{encode(canonical)}"


def signature(secret: str, method: str, params: dict[str, str]) -> str:
    mac = hmac.new((secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Sign:
    status: int
    """0 pending, 1 approved, 2 rejected, 10 canceled."""
    reason: str = ""
    source: int = 0
    remark: str = ""
    files: list[tuple[str, bytes]] = field(default_factory=list)
    created: str = "2026-11-01 09:00:00"


@dataclass
class Template:
    name: str
    content: str
    type: int
    status: int
    reason: str = ""
    remark: str = ""
    created: str = "2026-11-01 09:00:00"


@dataclass
class Sent:
    params: dict[str, str]
    """Every parameter of the SendSms call but the ones that vary per call."""
    biz_id: str | None = None


@dataclass
class FakeAliyun:
    access_key_id: str = "LTAI5tFakeAliyunKeyId01"
    access_key_secret: str = "fake-aliyun-access-key-secret-0123456789"
    sign_name: str = "阿里云短信测试"
    template_code: str = "SMS_154950909"
    otp_template_code: str = "SMS_154950910"
    signs: dict[str, Sign] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    received: list[Sent] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    push_url: str | None = None
    """The receipt push URL set "in the console"."""
    port: int = 0
    _nonces: set[str] = field(default_factory=set)
    _http: LoopbackServer | None = None

    def __post_init__(self) -> None:
        self.signs.setdefault(self.sign_name, Sign(status=1))
        self.templates.setdefault(
            self.template_code, Template("notice", "${content}", type=1, status=1)
        )
        self.templates.setdefault(
            self.otp_template_code,
            Template("code", "您的验证码为${code}，5分钟内有效。", type=0, status=1),  # noqa: RUF001
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults and reviewers -------------------------------------------------------

    def fail_next(
        self, status: int, code: str = "ServiceUnavailable", headers: dict[str, str] | None = None
    ) -> None:
        """The API gateway's answer with an HTTP error status."""
        self.faults.fail(status, self._error_body(code, f"fault {status}"), headers)

    def reject_next(self, code: str, message: str = "rejected") -> None:
        """A business error: HTTP 200 with a ``Code`` other than OK."""
        self.faults.fail(200, {"RequestId": str(uuid.uuid4()), "Code": code, "Message": message})

    def hang_next(self, seconds: float) -> None:
        self.faults.hang(seconds)

    def review_sign(self, name: str, status: int, reason: str = "") -> None:
        self.signs[name].status, self.signs[name].reason = status, reason

    def review_template(self, code: str, status: int, reason: str = "") -> None:
        self.templates[code].status, self.templates[code].reason = status, reason

    # -- the API ----------------------------------------------------------------------

    @staticmethod
    def _error_body(code: str, message: str) -> dict[str, str]:
        return {
            "RequestId": str(uuid.uuid4()),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
        }

    @staticmethod
    def _gateway_error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse(FakeAliyun._error_body(code, message), status_code=status)

    @staticmethod
    def _ok(**fields: Any) -> JSONResponse:
        return JSONResponse(
            {"RequestId": str(uuid.uuid4()), "Code": "OK", "Message": "OK", **fields}
        )

    @staticmethod
    def _business_error(code: str, message: str) -> JSONResponse:
        return JSONResponse({"RequestId": str(uuid.uuid4()), "Code": code, "Message": message})

    @staticmethod
    def _missing(params: dict[str, str], *names: str) -> JSONResponse | None:
        for name in names:
            if not params.get(name):
                return FakeAliyun._gateway_error(
                    400, f"Missing{name}", f"{name} is mandatory for this action."
                )
        return None

    def _authenticate(self, method: str, params: dict[str, str]) -> JSONResponse | None:
        if (missing := self._missing(params, *COMMON)) is not None:
            return missing
        if params["Format"] != "JSON":
            return self._gateway_error(400, "InvalidParameter", "this fake answers JSON only")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self._gateway_error(
                400, "IncompleteSignature", "The request signature does not conform to standards."
            )
        if params["Version"] != "2017-05-25":
            return self._gateway_error(
                400, "InvalidVersion", "Specified parameter Version is not valid."
            )
        if params["AccessKeyId"] != self.access_key_id:
            return self._gateway_error(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._gateway_error(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        if abs(datetime.now(UTC) - stamp) > MAX_SKEW:
            return self._gateway_error(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )
        expected = signature(self.access_key_secret, method, params)
        if not hmac.compare_digest(expected, params["Signature"]):
            return self._gateway_error(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign "
                f"is:{string_to_sign(method, params)}",
            )
        if params["SignatureNonce"] in self._nonces:
            return self._gateway_error(
                400, "SignatureNonceUsed", "Specified signature nonce was used already."
            )
        self._nonces.add(params["SignatureNonce"])
        return None

    async def _rpc(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.calls.append(params)
        if params.get("Action") == "SendSms":
            self.received.append(Sent({k: v for k, v in params.items() if k not in VARYING}))
        if (fault := await self.faults.next()) is not None:
            return fault
        if (problem := self._authenticate(request.method, params)) is not None:
            return problem
        handler = {
            "SendSms": self._send_sms,
            "AddSmsSign": self._add_sign,
            "QuerySmsSign": self._query_sign,
            "AddSmsTemplate": self._add_template,
            "QuerySmsTemplate": self._query_template,
        }.get(params["Action"])
        if handler is None:
            return self._gateway_error(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            )
        return handler(params)

    def _send_sms(self, p: dict[str, str]) -> Response:
        if (missing := self._missing(p, "PhoneNumbers", "SignName", "TemplateCode")) is not None:
            return missing
        phones = p["PhoneNumbers"].split(",")
        if len(phones) > 1000:
            return self._business_error("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
        if not all(re.fullmatch(r"(\+|00)?[1-9]\d{6,14}", n) for n in phones):
            return self._business_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        sign = self.signs.get(p["SignName"])
        if sign is None or sign.status != 1:
            return self._business_error("isv.SMS_SIGNATURE_ILLEGAL", "签名不合法(不存在或被拉黑)")
        template = self.templates.get(p["TemplateCode"])
        if template is None or template.status != 1:
            return self._business_error("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法(不存在或被拉黑)")
        try:
            values = json.loads(p.get("TemplateParam") or "{}")
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise ValueError("not an object of strings")
        except ValueError:
            return self._business_error(
                "isv.INVALID_JSON_PARAM",
                "JSON参数不合法，只接受字符串值",  # noqa: RUF001 (Aliyun's Chinese text)
            )
        if any(name not in values for name in re.findall(r"\$\{(\w+)\}", template.content)):
            return self._business_error("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        self.received[-1].biz_id = biz_id
        return self._ok(BizId=biz_id)

    def _add_sign(self, p: dict[str, str]) -> Response:
        if (missing := self._missing(p, "SignName", "SignSource", "Remark")) is not None:
            return missing
        if p["SignSource"] not in {"0", "1", "2", "3", "4", "5"}:
            return self._business_error("isv.INVALID_PARAMETERS", "SignSource 取值不合法")
        files = []
        for n in range(1, 21):
            suffix = p.get(f"SignFileList.{n}.FileSuffix")
            contents = p.get(f"SignFileList.{n}.FileContents")
            if suffix is None and contents is None:
                break
            if suffix not in ("jpg", "jpeg", "png", "gif") or not contents:
                return self._business_error("isv.INVALID_PARAMETERS", "证明文件格式不合法")
            try:
                files.append((suffix, base64.b64decode(contents, validate=True)))
            except binascii.Error:
                return self._business_error("isv.INVALID_PARAMETERS", "证明文件不是 base64")
        self.signs[p["SignName"]] = Sign(
            0, source=int(p["SignSource"]), remark=p["Remark"], files=files
        )
        return self._ok(SignName=p["SignName"])

    def _query_sign(self, p: dict[str, str]) -> Response:
        if (missing := self._missing(p, "SignName")) is not None:
            return missing
        sign = self.signs.get(p["SignName"])
        if sign is None:
            return self._business_error("isv.SMS_SIGNATURE_ILLEGAL", "签名不存在")
        return self._ok(
            SignName=p["SignName"],
            SignStatus=sign.status,
            Reason=sign.reason if sign.status in (2, 10) else "无审批备注",
            CreateDate=sign.created,
        )

    def _add_template(self, p: dict[str, str]) -> Response:
        names = ("TemplateType", "TemplateName", "TemplateContent", "Remark")
        if (missing := self._missing(p, *names)) is not None:
            return missing
        if p["TemplateType"] not in {"0", "1", "2", "3"}:
            return self._business_error("isv.INVALID_PARAMETERS", "TemplateType 取值不合法")
        code = f"SMS_{secrets.randbelow(10**9):09d}"
        self.templates[code] = Template(
            p["TemplateName"], p["TemplateContent"], int(p["TemplateType"]), 0, remark=p["Remark"]
        )
        return self._ok(TemplateCode=code)

    def _query_template(self, p: dict[str, str]) -> Response:
        if (missing := self._missing(p, "TemplateCode")) is not None:
            return missing
        template = self.templates.get(p["TemplateCode"])
        if template is None:
            return self._business_error("isv.SMS_TEMPLATE_ILLEGAL", "模板不存在")
        return self._ok(
            TemplateCode=p["TemplateCode"],
            TemplateStatus=template.status,
            Reason=template.reason if template.status in (2, 10) else "无审批备注",
            TemplateName=template.name,
            TemplateContent=template.content,
            TemplateType=template.type,
            CreateDate=template.created,
        )

    # -- receipts ---------------------------------------------------------------------

    def report(
        self,
        biz_id: str,
        *,
        success: bool = True,
        err_code: str = "DELIVERED",
        err_msg: str = "用户接收成功",
    ) -> dict[str, Any]:
        """One SmsReport element about the message Aliyun answered ``biz_id`` for."""
        [sent] = [s for s in self.received if s.biz_id == biz_id]
        return {
            "phone_number": sent.params["PhoneNumbers"],
            "send_time": "2026-11-25 18:00:00",
            "report_time": "2026-11-25 18:00:03",
            "success": success,
            "err_code": err_code,
            "err_msg": err_msg,
            "sms_size": "1",
            "biz_id": biz_id,
            "out_id": sent.params.get("OutId", ""),
        }

    def push(self, reports: list[dict[str, Any]], url: str | None = None) -> httpx.Response:
        """POST a batch of reports the way Aliyun's HTTP push does (unsigned JSON)."""
        target = url or self.push_url
        assert target, "set push_url (the console's receipt URL) first"
        return httpx.post(target, json=reports, timeout=10)

    def start(self) -> FakeAliyun:
        self._http = LoopbackServer([Route("/", self._rpc, methods=["GET", "POST"])], "fake Aliyun")
        self.port = self._http.port
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
