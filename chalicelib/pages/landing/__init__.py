"""The shopper landing page behind each QR code: one small HTML page in Vietnamese, English or Filipino."""
from __future__ import annotations

import base64
import hashlib
import html
import json
import zoneinfo
from datetime import datetime, timedelta
from urllib.parse import urlsplit

__all__ = [
    "LANGUAGES",
    "DEFAULT_LANGUAGE",
    "STRINGS",
    "pick_language",
    "render_landing",
    "render_unavailable",
    "content_security_policy",
    "response_headers",
]

# Vietnam is the first market: a phone that states no usable preference gets Vietnamese.
LANGUAGES = ("vi", "en", "fil")
DEFAULT_LANGUAGE = "vi"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English", "fil": "Filipino"}
# Tagalog (tl) is what many phones in the Philippines send for Filipino.
_ALIASES = {"vi": "vi", "en": "en", "fil": "fil", "tl": "fil"}
# describe_code gives no time zone yet; Vietnam's is right for the first market.
_FALLBACK_TIMEZONE = "Asia/Ho_Chi_Minh"
_MAX_CODE_ECHO = 64
_MAX_ACCEPT_ITEMS = 32

# Every word the shopper reads, in each language. Keys with _one/_other are counted
# forms; {name} placeholders must be the same in every language (a unit test checks).
STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "lang_label": "Ngôn ngữ",
        "promo": "Chương trình khuyến mãi",
        "product": "Sản phẩm: {sku}",
        "offer": "Quét mã này để nhận {what}.",
        "ends": "Kết thúc lúc {time} ngày {date}.",
        "your_code": "Mã của bạn:",
        "needs_js": "Để nhận thưởng, trang này cần JavaScript. Hãy mở trang bằng trình duyệt của điện thoại (Chrome hoặc Safari).",
        "signin_title": "Đăng nhập bằng số điện thoại",
        "phone_label": "Số điện thoại di động",
        "phone_placeholder": "0912 345 678",
        "phone_hint": "Chúng tôi sẽ gửi mã gồm 6 chữ số qua SMS.",
        "send_code": "Gửi mã",
        "code_sent": "Đã gửi mã đến {phone}. Mã dùng được trong {minutes} phút.",
        "otp_label": "Mã 6 chữ số trong SMS",
        "sign_in": "Đăng nhập",
        "other_number": "Dùng số khác",
        "resend": "Gửi lại mã",
        "signed_in": "Đã đăng nhập: {phone}",
        "claim": "Nhận thưởng",
        "sign_out": "Đăng xuất",
        "wait": "Vui lòng chờ…",
        "granted": "Chúc mừng! Bạn đã nhận được",
        "nothing": "Lượt quét của bạn đã được ghi nhận.",
        "replay_title": "Mã này đã là của bạn",
        "replay_body": "Bạn đã nhận thưởng cho mã này trước đó, nên lần này không cộng thêm.",
        "and": " và ",
        "points_one": "{n} điểm",
        "points_other": "{n} điểm",
        "entries_one": "{n} lượt quay số may mắn",
        "entries_other": "{n} lượt quay số may mắn",
        "prize": "Giải thưởng: {name}",
        "balance": "Tổng của bạn: {points} và {entries}.",
        "seconds_one": "{n} giây",
        "seconds_other": "{n} giây",
        "minutes_one": "{n} phút",
        "minutes_other": "{n} phút",
        "hours_one": "{n} giờ",
        "hours_other": "{n} giờ",
        "limit_wait": "Bạn đã thử quá nhiều lần. Vui lòng thử lại sau {wait}.",
        "limit": "Bạn đã đạt giới hạn nhận thưởng của chương trình này.",
        "e_code_invalid": "Mã này không hợp lệ. Hãy kiểm tra mã in bên dưới mã QR.",
        "e_code_already_claimed": "Mã này đã được người khác nhận thưởng.",
        "e_code_not_active": "Mã này chưa được kích hoạt. Hãy thử lại khi sản phẩm đã được bày bán.",
        "e_campaign_not_running": "Chương trình khuyến mãi này hiện không diễn ra.",
        "e_phone_invalid": "Số điện thoại chưa đúng. Hãy nhập số di động, ví dụ 0912 345 678.",
        "e_otp_format": "Hãy nhập đủ 6 chữ số trong SMS.",
        "e_otp_invalid": "Mã chưa đúng. Hãy kiểm tra SMS và nhập lại.",
        "e_otp_expired": "Mã đã hết hạn hoặc đã được dùng. Hãy bấm “Gửi lại mã”.",
        "e_otp_tries_exceeded": "Bạn đã nhập sai quá nhiều lần. Hãy bấm “Gửi lại mã”.",
        "e_unauthorized": "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.",
        "e_busy": "Hệ thống đang bận. Vui lòng thử lại sau giây lát.",
        "e_network": "Không kết nối được. Hãy kiểm tra mạng và thử lại.",
        "e_error": "Đã xảy ra lỗi. Vui lòng thử lại.",
        "invalid_title": "Mã không hợp lệ",
        "invalid_body": "Chúng tôi không tìm thấy mã này. Hãy kiểm tra mã in bên dưới mã QR trên bao bì, hoặc quét lại.",
        "unavailable_title": "Chưa mở được trang",
        "unavailable_body": "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
    },
    "en": {
        "lang_label": "Language",
        "promo": "Promotion",
        "product": "Product: {sku}",
        "offer": "Scan this code to get {what}.",
        "ends": "Ends {date} at {time}.",
        "your_code": "Your code:",
        "needs_js": "To claim, this page needs JavaScript. Open it in your phone's browser (Chrome or Safari).",
        "signin_title": "Sign in with your phone number",
        "phone_label": "Mobile number",
        "phone_placeholder": "0912 345 678",
        "phone_hint": "We will text you a 6-digit code.",
        "send_code": "Send code",
        "code_sent": "We sent a code to {phone}. It works for {minutes} minutes.",
        "otp_label": "6-digit code from the SMS",
        "sign_in": "Sign in",
        "other_number": "Use another number",
        "resend": "Send a new code",
        "signed_in": "Signed in as {phone}",
        "claim": "Claim my reward",
        "sign_out": "Sign out",
        "wait": "Please wait…",
        "granted": "Done! You got",
        "nothing": "Your scan is recorded.",
        "replay_title": "This code is already yours",
        "replay_body": "You claimed it before, so nothing new was added.",
        "and": " and ",
        "points_one": "{n} point",
        "points_other": "{n} points",
        "entries_one": "{n} lucky-draw entry",
        "entries_other": "{n} lucky-draw entries",
        "prize": "Prize: {name}",
        "balance": "Your balance: {points} and {entries}.",
        "seconds_one": "{n} second",
        "seconds_other": "{n} seconds",
        "minutes_one": "{n} minute",
        "minutes_other": "{n} minutes",
        "hours_one": "{n} hour",
        "hours_other": "{n} hours",
        "limit_wait": "Too many tries. Please try again in {wait}.",
        "limit": "You have reached this promotion's claim limit.",
        "e_code_invalid": "This code is not valid. Check the code printed under the QR.",
        "e_code_already_claimed": "Someone else has already claimed this code.",
        "e_code_not_active": "This code is not active yet. Try again once the product is on sale.",
        "e_campaign_not_running": "This promotion is not running right now.",
        "e_phone_invalid": "That number doesn't look right. Enter a mobile number, e.g. 0912 345 678.",
        "e_otp_format": "Enter the 6 digits from the SMS.",
        "e_otp_invalid": "That code is not right. Check the SMS and try again.",
        "e_otp_expired": "This code has expired or was already used. Tap “Send a new code”.",
        "e_otp_tries_exceeded": "Too many wrong tries. Tap “Send a new code”.",
        "e_unauthorized": "Your sign-in has expired. Please sign in again.",
        "e_busy": "We're busy right now. Please try again in a moment.",
        "e_network": "Could not connect. Check your connection and try again.",
        "e_error": "Something went wrong. Please try again.",
        "invalid_title": "This code is not valid",
        "invalid_body": "We could not find this code. Check the code printed under the QR on the pack, or scan it again.",
        "unavailable_title": "This page did not load",
        "unavailable_body": "We're busy right now. Please try again in a few minutes.",
    },
    "fil": {
        "lang_label": "Wika",
        "promo": "Promo",
        "product": "Produkto: {sku}",
        "offer": "I-scan ang code na ito para makakuha ng {what}.",
        "ends": "Matatapos sa {date}, {time}.",
        "your_code": "Ang code mo:",
        "needs_js": "Para makapag-claim, kailangan ng JavaScript ang page na ito. Buksan ito sa browser ng phone mo (Chrome o Safari).",
        "signin_title": "Mag-sign in gamit ang phone number mo",
        "phone_label": "Mobile number",
        "phone_placeholder": "0917 123 4567",
        "phone_hint": "Padadalhan ka namin ng 6-digit na code sa SMS.",
        "send_code": "Ipadala ang code",
        "code_sent": "Naipadala na ang code sa {phone}. Gagana ito nang {minutes} minuto.",
        "otp_label": "6-digit na code mula sa SMS",
        "sign_in": "Mag-sign in",
        "other_number": "Ibang number",
        "resend": "Magpadala ng bagong code",
        "signed_in": "Naka-sign in bilang {phone}",
        "claim": "I-claim ang reward ko",
        "sign_out": "Mag-sign out",
        "wait": "Sandali lang…",
        "granted": "Ayos! Nakuha mo ang",
        "nothing": "Naitala na ang scan mo.",
        "replay_title": "Sa iyo na ang code na ito",
        "replay_body": "Na-claim mo na ito dati, kaya walang nadagdag ngayon.",
        "and": " at ",
        "points_one": "{n} puntos",
        "points_other": "{n} puntos",
        "entries_one": "{n} entry sa raffle",
        "entries_other": "{n} entry sa raffle",
        "prize": "Premyo: {name}",
        "balance": "Kabuuan mo: {points} at {entries}.",
        "seconds_one": "{n} segundo",
        "seconds_other": "{n} segundo",
        "minutes_one": "{n} minuto",
        "minutes_other": "{n} minuto",
        "hours_one": "{n} oras",
        "hours_other": "{n} oras",
        "limit_wait": "Masyadong maraming subok. Subukan ulit pagkalipas ng {wait}.",
        "limit": "Naabot mo na ang limit ng pag-claim sa promong ito.",
        "e_code_invalid": "Hindi valid ang code na ito. Tingnan ang code na naka-print sa ilalim ng QR.",
        "e_code_already_claimed": "Na-claim na ng ibang tao ang code na ito.",
        "e_code_not_active": "Hindi pa active ang code na ito. Subukan ulit kapag nabibili na ang produkto.",
        "e_campaign_not_running": "Hindi tumatakbo ang promong ito ngayon.",
        "e_phone_invalid": "Mali ang number. Maglagay ng mobile number, halimbawa 0917 123 4567.",
        "e_otp_format": "Ilagay ang 6 na numero mula sa SMS.",
        "e_otp_invalid": "Mali ang code. Tingnan ang SMS at subukan ulit.",
        "e_otp_expired": "Expired na o nagamit na ang code. Pindutin ang “Magpadala ng bagong code”.",
        "e_otp_tries_exceeded": "Masyadong maraming maling subok. Pindutin ang “Magpadala ng bagong code”.",
        "e_unauthorized": "Nag-expire na ang sign-in mo. Mag-sign in ulit.",
        "e_busy": "Abala ang system ngayon. Subukan ulit maya-maya.",
        "e_network": "Hindi maka-connect. Tingnan ang internet mo at subukan ulit.",
        "e_error": "May nangyaring mali. Subukan ulit.",
        "invalid_title": "Hindi valid ang code na ito",
        "invalid_body": "Hindi namin mahanap ang code na ito. Tingnan ang code na naka-print sa ilalim ng QR sa pakete, o i-scan ulit.",
        "unavailable_title": "Hindi na-load ang page",
        "unavailable_body": "Abala ang system ngayon. Subukan ulit pagkalipas ng ilang minuto.",
    },
}

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fil": ("Enero", "Pebrero", "Marso", "Abril", "Mayo", "Hunyo", "Hulyo", "Agosto", "Setyembre", "Oktubre",
            "Nobyembre", "Disyembre"),
}

# System fonts only: a web font would cost a cheap phone on 3G more than the whole page,
# and every phone's own font already covers Vietnamese diacritics. Tap targets are at
# least 48 px high.
_STYLE = """
:root{--ink:#1b1b1b;--muted:#555;--bg:#f4f3ef;--card:#fff;--brand:#b71c1c;--ok:#1b6e35;--bad:#a4221a;--line:#dcdad3}
*{box-sizing:border-box}[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:18px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
.wrap{max-width:30rem;margin:0 auto;padding:12px 16px 32px}
nav{display:flex;flex-wrap:wrap;gap:8px;justify-content:flex-end;margin:0 0 12px}
nav a{display:inline-flex;align-items:center;min-height:44px;padding:0 14px;border:1px solid var(--line);border-radius:22px;background:var(--card);color:var(--ink);font-size:16px;text-decoration:none}
nav a[aria-current]{background:var(--ink);border-color:var(--ink);color:#fff}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:18px;margin:0 0 16px}
.eyebrow{margin:0;color:var(--muted);font-size:15px;letter-spacing:.03em;text-transform:uppercase}
h1{margin:4px 0 10px;font-size:26px;line-height:1.2}
h2{margin:0 0 12px;font-size:21px;line-height:1.25}
p{margin:0 0 10px}
.offer{color:var(--brand);font-size:20px;font-weight:700}
.muted{color:var(--muted);font-size:16px}
code{display:block;margin-top:2px;font:600 19px/1.3 ui-monospace,Menlo,Consolas,monospace;letter-spacing:.04em;overflow-wrap:anywhere}
label{display:block;margin:0 0 6px;font-weight:600}
input{display:block;width:100%;min-height:52px;padding:10px 12px;border:2px solid #767676;border-radius:10px;background:#fff;color:var(--ink);font-size:22px}
input:focus{border-color:#1558b0;outline:3px solid #8ab4f8;outline-offset:1px}
button{display:block;width:100%;min-height:52px;margin:12px 0 0;padding:12px 16px;border:0;border-radius:10px;background:var(--brand);color:#fff;font-family:inherit;font-size:20px;font-weight:700;cursor:pointer}
button:disabled{opacity:.6}
button.plain{min-height:48px;background:none;color:var(--ink);font-size:17px;font-weight:400;text-decoration:underline}
.msg{margin:0 0 16px;padding:14px 16px;border-radius:10px;font-weight:600}
.bad{background:#fdecea;border:1px solid #f2c4bf;color:var(--bad)}
.bad h1{color:var(--bad)}
.result{border:2px solid var(--ok)}
.result h2{color:var(--ok)}
.big{margin:4px 0 12px;font-size:28px;font-weight:800;line-height:1.2}
""".strip()

# Runs in <head> so a remembered language switches before anything is painted; the rest
# waits for the document. Data goes in through textContent only, never as HTML.
_SCRIPT = r"""
(function(){"use strict";
var d=document,lang=d.documentElement.lang,A={vi:"vi",en:"en",fil:"fil",tl:"fil"};
var q=/[?&]lang=([^&#]*)/.exec(location.search);
try{if(q){if(A[decodeURIComponent(q[1]).toLowerCase().split("-")[0]]===lang)localStorage.setItem("qrc.lang",lang)}
else{var s=localStorage.getItem("qrc.lang");if(s&&s!==lang&&A[s]===s){location.replace("?lang="+s);return}}}catch(e){}
d.addEventListener("DOMContentLoaded",function(){
var m=d.getElementById("app");if(!m||m.getAttribute("data-state")!=="open")return;
var T=JSON.parse(d.getElementById("t").textContent),code=m.getAttribute("data-code");
var api=m.getAttribute("data-api")||location.pathname.replace(/\/[sS]\/[^\/]*\/?$/,"");
function $(i){return d.getElementById(i)}
function fmt(s,v){return s.replace(/\{(\w+)\}/g,function(_,k){return v[k]})}
function nb(t){return String(t||"").replace(/ /g,"\u00a0")}
function num(n){try{return Number(n).toLocaleString(lang)}catch(e){return String(n)}}
function many(k,n){return fmt(T[k+(n===1?"_one":"_other")],{n:num(n)})}
function get(k){try{return sessionStorage.getItem(k)}catch(e){return null}}
function put(k,v){try{v==null?sessionStorage.removeItem(k):sessionStorage.setItem(k,v)}catch(e){}}
var msg=$("msg"),phone=get("qrc.phone"),FINAL=["code_invalid","code_already_claimed","code_not_active","campaign_not_running"];
function say(t){msg.textContent=t||"";msg.hidden=!t}
function show(step){["phone","otp","claim"].forEach(function(n){$("s-"+n).hidden=n!==step})}
function token(){var t=get("qrc.token");if(t&&Date.parse(get("qrc.exp")||"")>Date.now()+5e3)return t;put("qrc.token",null);return null}
function wait(s){return s<60?many("seconds",s):s<7200?many("minutes",Math.ceil(s/60)):many("hours",Math.ceil(s/3600))}
function problem(r){if(!r)return T.e_network;var e=(r.body&&r.body.error)||{},c=e.code||"";
if(c==="limit_reached"){var s=parseInt(r.retry,10);return s>0?fmt(T.limit_wait,{wait:wait(s)}):T.limit}
if(c==="invalid_input"&&(e.field==="otp"||e.field==="phone"))return e.field==="otp"?T.e_otp_format:T.e_phone_invalid;
return T["e_"+c]||(r.status>=500?T.e_busy:T.e_error)}
function call(path,body,headers,button){var label=button.textContent;button.disabled=true;button.textContent=T.wait;say("");
var c=window.AbortController?new AbortController():null,timer=setTimeout(function(){if(c)c.abort()},3e4);
var h={"Content-Type":"application/json"};for(var k in headers)h[k]=headers[k];
return fetch(api+path,{method:"POST",headers:h,body:JSON.stringify(body),cache:"no-store",credentials:"omit",signal:c?c.signal:undefined})
.then(function(r){return r.json().catch(function(){return{}}).then(function(b){return{ok:r.ok,status:r.status,body:b,retry:r.headers.get("Retry-After")}})},function(){return null})
.then(function(r){clearTimeout(timer);button.disabled=false;button.textContent=label;return r})}
function send(p,button){call("/v1/shopper/otp",{phone:p},null,button).then(function(r){
if(!r||!r.ok)return say(problem(r));phone=p;put("qrc.phone",p);
$("sent").textContent=fmt(T.code_sent,{phone:nb(r.body.phone),minutes:Math.round((r.body.expires_in||300)/60)});
show("otp");$("otp").value="";$("otp").focus()})}
function ready(){$("who").textContent=fmt(T.signed_in,{phone:nb(get("qrc.who"))});show("claim")}
function key(){var k="qrc.key."+code,v=get(k);if(!v){var a=new Uint8Array(16);crypto.getRandomValues(a);
v=Array.prototype.map.call(a,function(b){return(b+256).toString(16).slice(1)}).join("");put(k,v)}return v}
function result(b){var parts=[];if(b.points)parts.push(many("points",b.points));if(b.entries)parts.push(many("entries",b.entries));
$("r-title").textContent=b.replay?T.replay_title:T.granted;
$("r-what").textContent=b.replay?T.replay_body:(parts.length?parts.join(T.and):T.nothing);$("r-what").className=b.replay?"":"big";
$("r-prize").textContent=b.prize?fmt(T.prize,{name:b.prize.name}):"";$("r-prize").hidden=!b.prize;
$("r-balance").textContent=fmt(T.balance,{points:many("points",b.balance.points),entries:many("entries",b.balance.entries)});
$("result").hidden=false;$("b-claim").hidden=true;$("result").scrollIntoView()}
$("f-phone").addEventListener("submit",function(ev){ev.preventDefault();var p=$("phone").value.trim();
if(!p)return say(T.e_phone_invalid);send(p,$("b-send"))});
$("f-otp").addEventListener("submit",function(ev){ev.preventDefault();var o=$("otp").value.replace(/\D/g,"");
if(o.length!==6)return say(T.e_otp_format);
call("/v1/shopper/session",{phone:phone,otp:o},null,$("b-signin")).then(function(r){
if(!r||!r.ok)return say(problem(r));put("qrc.token",r.body.token);put("qrc.exp",r.body.expires_at);put("qrc.who",r.body.phone);ready()})});
$("b-resend").addEventListener("click",function(){send(phone,$("b-resend"))});
$("b-other").addEventListener("click",function(){put("qrc.phone",null);say("");show("phone");$("phone").focus()});
$("b-out").addEventListener("click",function(){["qrc.token","qrc.exp","qrc.who","qrc.phone"].forEach(function(k){put(k,null)});
$("result").hidden=true;$("b-claim").hidden=false;say("");show("phone")});
$("b-claim").addEventListener("click",function(){var t=token();if(!t){show("phone");return say(T.e_unauthorized)}
call("/v1/scans",{code:code},{"Authorization":"Bearer "+t,"Idempotency-Key":key()},$("b-claim")).then(function(r){
if(r&&r.ok)return result(r.body);if(r&&r.status===401){put("qrc.token",null);show("phone")}
var c=r&&r.body&&r.body.error&&r.body.error.code;if(FINAL.indexOf(c)>=0)$("b-claim").hidden=true;say(problem(r))})});
if(phone)$("phone").value=phone;if(token())ready();else show("phone");$("flow").hidden=false})})();
""".strip()


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


# Hashes, not nonces: the script and style never change between responses, so the
# policy is a constant and the page body stays cacheable should that ever be wanted.
_STYLE_HASH = _csp_hash(_STYLE)
_SCRIPT_HASH = _csp_hash(_SCRIPT)


def content_security_policy(api_base: str = "") -> str:
    """The page's policy: its own inline script and style by hash, API calls to itself only."""
    connect = "'self'"
    parts = urlsplit(api_base)
    if parts.scheme in ("http", "https") and parts.netloc:
        connect += f" {parts.scheme}://{parts.netloc}"
    return (f"default-src 'none'; script-src {_SCRIPT_HASH}; style-src {_STYLE_HASH}; connect-src {connect}; "
            "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def response_headers(lang: str, api_base: str = "") -> dict[str, str]:
    """Headers for every landing-page answer, whatever its status."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        # The page says whether a code can still be claimed: never serve it from a cache.
        "Cache-Control": "no-store",
        "Content-Language": lang,
        "Content-Security-Policy": content_security_policy(api_base),
        # The code is in the URL: no referrer may carry it anywhere.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Language",
    }


def _supported(tag: str) -> str | None:
    primary = tag.strip().lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(primary)


def pick_language(accept_language: str | None, explicit: str | None) -> str:
    """The page language: an explicit ?lang= first, then Accept-Language by q-value, then Vietnamese.

    Only the primary subtag counts (vi-VN is vi, fil-PH and tl are fil); among equal
    q-values the first listed wins; q=0 rules a language out; `*` stands for the default.
    """
    if explicit:
        chosen = _supported(explicit)
        if chosen:
            return chosen
    ranked: list[tuple[float, int, str]] = []
    excluded: set[str] = set()
    for index, item in enumerate((accept_language or "").split(",")[:_MAX_ACCEPT_ITEMS]):
        tag, *params = item.split(";")
        tag = tag.strip()
        if not tag:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        language = DEFAULT_LANGUAGE if tag == "*" else _supported(tag)
        if language is None:
            continue
        if quality <= 0.0:
            excluded.add(language)
        else:
            ranked.append((-quality, index, language))
    for _, _, language in sorted(ranked):
        if language not in excluded:
            return language
    return next((language for language in LANGUAGES if language not in excluded), DEFAULT_LANGUAGE)


def _number(value: int, lang: str) -> str:
    grouped = f"{value:,}"
    # Vietnamese groups thousands with a dot.
    return grouped.replace(",", ".") if lang == "vi" else grouped


def _count(strings: dict[str, str], key: str, value: int, lang: str) -> str:
    return strings[f"{key}_{'one' if value == 1 else 'other'}"].format(n=_number(value, lang))


def _end_text(info: dict, strings: dict[str, str], lang: str) -> str | None:
    try:
        ends = datetime.fromisoformat(str(info["ends_at"]).replace("Z", "+00:00"))
        zone = zoneinfo.ZoneInfo(str(info.get("timezone") or _FALLBACK_TIMEZONE))
    except (KeyError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None
    if ends.tzinfo is None:
        return None
    local = ends.astimezone(zone)
    # A campaign that ends at midnight is open all of the day before: say so.
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        local -= timedelta(minutes=1)
    if lang == "vi":
        date = f"{local.day}/{local.month}/{local.year}"
    elif lang == "fil":
        date = f"{_MONTHS['fil'][local.month - 1]} {local.day}, {local.year}"
    else:
        date = f"{local.day} {_MONTHS['en'][local.month - 1]} {local.year}"
    return strings["ends"].format(date=date, time=f"{local.hour:02d}:{local.minute:02d}")


def _offer_text(info: dict, strings: dict[str, str], lang: str) -> str | None:
    parts = []
    points, entries = int(info.get("points_per_scan") or 0), int(info.get("entries_per_scan") or 0)
    if points:
        parts.append(_count(strings, "points", points, lang))
    if entries:
        parts.append(_count(strings, "entries", entries, lang))
    return strings["offer"].format(what=strings["and"].join(parts)) if parts else None


def _script_json(strings: dict[str, str]) -> str:
    # Inside <script>, "</" would end the element: escape the characters that can start markup.
    text = json.dumps(strings, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(lang: str, title: str, main_attrs: dict[str, str], body: str, with_strings: bool) -> str:
    e = html.escape
    strings = STRINGS[lang]
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="?lang={code}" lang="{code}" hreflang="{code}"{current if code == lang else ""}>'
        f"{e(LANGUAGE_NAMES[code])}</a>"
        for code in LANGUAGES
    )
    attrs = "".join(f' {name}="{e(value)}"' for name, value in main_attrs.items())
    data = f'<script type="application/json" id="t">{_script_json(strings)}</script>' if with_strings else ""
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
        f"<title>{e(title)}</title><style>{_STYLE}</style><script>{_SCRIPT}</script></head>"
        f'<body><div class="wrap"><nav aria-label="{e(strings["lang_label"])}">{links}</nav>'
        f'<main id="app"{attrs}>{body}</main></div>{data}</body></html>'
    )


def _claim_flow(strings: dict[str, str]) -> str:
    e = lambda key: html.escape(strings[key])  # noqa: E731 - a local shorthand keeps the markup readable
    return (
        f'<noscript><p class="msg bad">{e("needs_js")}</p></noscript>'
        '<div id="flow" hidden>'
        f'<section id="s-phone" class="card" hidden><h2>{e("signin_title")}</h2><form id="f-phone" novalidate>'
        f'<label for="phone">{e("phone_label")}</label>'
        f'<input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" maxlength="40" '
        f'placeholder="{e("phone_placeholder")}">'
        f'<p class="muted">{e("phone_hint")}</p>'
        f'<button id="b-send" type="submit">{e("send_code")}</button></form></section>'
        f'<section id="s-otp" class="card" hidden><h2>{e("signin_title")}</h2><p id="sent"></p><form id="f-otp" novalidate>'
        f'<label for="otp">{e("otp_label")}</label>'
        '<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12">'
        f'<button id="b-signin" type="submit">{e("sign_in")}</button></form>'
        f'<button id="b-resend" class="plain" type="button">{e("resend")}</button>'
        f'<button id="b-other" class="plain" type="button">{e("other_number")}</button></section>'
        '<section id="s-claim" class="card" hidden><p id="who" class="muted"></p>'
        f'<button id="b-claim" type="button">{e("claim")}</button>'
        '<div id="result" class="result card" tabindex="-1" hidden><h2 id="r-title"></h2><p id="r-what"></p>'
        '<p id="r-prize"></p><p id="r-balance"></p></div>'
        f'<button id="b-out" class="plain" type="button">{e("sign_out")}</button></section>'
        # Below the one visible step, so an error shows next to the button that caused it.
        '<p id="msg" class="msg bad" role="alert" hidden></p>'
        "</div>"
    )


def render_landing(info: dict | None, lang: str, code_text: str, api_base: str) -> str:
    """The landing page for one scanned code; `info` None renders the "code not valid" page.

    `info` is what scans.describe_code returns. `api_base` is where the API lives: empty
    means this page's own origin and path prefix (the API Gateway stage, if any).
    """
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    strings = STRINGS[lang]
    e = html.escape
    if info is None:
        shown = code_text.strip()[:_MAX_CODE_ECHO]
        body = (
            f'<section class="card bad"><h1>{e(strings["invalid_title"])}</h1><p>{e(strings["invalid_body"])}</p>'
            + (f'<p>{e(strings["your_code"])} <code>{e(shown)}</code></p>' if shown else "")
            + "</section>"
        )
        return _page(lang, strings["invalid_title"], {"data-state": "invalid"}, body, with_strings=False)

    name = str(info.get("campaign_name") or "")
    claimable = bool(info.get("claimable"))
    lines = [f'<p class="eyebrow">{e(strings["promo"])}</p><h1>{e(name)}</h1>']
    if info.get("sku"):
        lines.append(f'<p>{e(strings["product"].format(sku=info["sku"]))}</p>')
    offer = _offer_text(info, strings, lang)
    if offer:
        lines.append(f'<p class="offer">{e(offer)}</p>')
    ends = _end_text(info, strings, lang)
    if ends:
        lines.append(f'<p class="muted">{e(ends)}</p>')
    lines.append(f'<p class="muted">{e(strings["your_code"])} <code>{e(str(info.get("code") or code_text))}</code></p>')
    body = f'<section class="card">{"".join(lines)}</section>'
    if claimable:
        body += _claim_flow(strings)
    else:
        reason = f'e_{info.get("reason")}'
        body += f'<p class="msg bad" role="alert">{e(strings.get(reason, strings["e_campaign_not_running"]))}</p>'
    attrs = {
        "data-state": "open" if claimable else "closed",
        "data-code": str(info.get("code") or code_text),
        "data-api": api_base,
    }
    return _page(lang, name or strings["promo"], attrs, body, with_strings=claimable)


def render_unavailable(lang: str) -> str:
    """The page shown when the code could not be looked up (a fault on our side, not the shopper's)."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    strings = STRINGS[lang]
    e = html.escape
    body = (f'<section class="card bad"><h1>{e(strings["unavailable_title"])}</h1>'
            f'<p>{e(strings["unavailable_body"])}</p></section>')
    return _page(lang, strings["unavailable_title"], {"data-state": "unavailable"}, body, with_strings=False)
