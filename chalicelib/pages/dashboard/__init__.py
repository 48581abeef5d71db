"""The campaign managers' dashboard: one self-contained HTML page, Chart.js inlined, data fetched from the API."""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import re
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "CHART_JS_PATH",
    "TOKEN_STORAGE_KEY",
    "TOTALS",
    "render_dashboard",
    "content_security_policy",
    "response_headers",
]

# Built by scripts/setup.sh from node_modules/chart.js: chalice deploys only app.py,
# chalicelib/ and requirements.txt, so the page's one dependency has to live in here.
CHART_JS_PATH = Path(__file__).resolve().parents[2] / "static" / "chart.umd.js"
# The operator token lives in this tab's sessionStorage only: gone when the tab closes.
TOKEN_STORAGE_KEY = "qrc.operatorToken"

# The totals tiles: (data-stat key = the JSON path in GET /stats, label). Grouped as shown.
TOTALS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Codes", (("codes.minted", "Minted"), ("codes.active", "Active"), ("codes.batches", "Batches"))),
    ("Scans", (("scans.total", "All scans"), ("scans.granted", "Granted"), ("scans.duplicate", "Duplicate"),
               ("scans.invalid", "Invalid"), ("scans.refused_cap", "Refused: cap"),
               ("scans.refused_rate", "Refused: rate limit"), ("scans.refused_inactive", "Refused: inactive"))),
    ("Participants", (("participants.unique", "Unique"), ("participants.new", "New"),
                      ("participants.returning", "Returning"))),
    ("Rewards", (("points_issued", "Points issued"), ("entries_issued", "Entries issued"))),
)

# System fonts, no web font; contrast at least 4.5:1 for text; the tables scroll sideways
# on a phone instead of squeezing. No style attribute anywhere: the policy only allows
# this block (the script sets colours through the CSSOM, which the policy permits).
_STYLE = """
:root{--ink:#1b1b1b;--muted:#4f4f4f;--bg:#f4f3ef;--card:#fff;--line:#d6d3ca;--brand:#b71c1c;--bad:#a4221a;--ok:#1b6e35;--blue:#1558b0}
*{box-sizing:border-box}[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
.wrap{max-width:1240px;margin:0 auto;padding:0 16px}
header.top{background:var(--ink);color:#fff}
header.top .wrap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:8px;min-height:56px;padding-top:8px;padding-bottom:8px}
header.top h1{margin:0;font-size:20px}
@media (max-width:600px){header.top h1{font-size:18px}#who-box{font-size:13px}}
#who-box{display:flex;flex-wrap:wrap;align-items:center;gap:8px;font-size:15px}
#who-box button{margin:0;min-height:40px;background:#fff;color:var(--ink)}
main.wrap{padding-top:16px;padding-bottom:40px}
h2{margin:0 0 12px;font-size:19px;line-height:1.25}
h3{margin:0 0 8px;font-size:15px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
p{margin:0 0 10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px;margin:0 0 16px;min-width:0}
.narrow{max-width:34rem;margin-left:auto;margin-right:auto}
.muted{color:var(--muted);font-size:14px}
label{display:block;margin:0 0 6px;font-weight:600}
textarea,select{display:block;width:100%;padding:8px 10px;border:2px solid #767676;border-radius:8px;background:#fff;color:var(--ink);font:inherit}
textarea{font:14px/1.4 ui-monospace,Menlo,Consolas,monospace;word-break:break-all;resize:vertical}
select{min-height:44px}
textarea:focus,select:focus,button:focus-visible,input:focus-visible,summary:focus-visible,.scroll:focus-visible{outline:3px solid #8ab4f8;outline-offset:2px}
button{min-height:44px;margin:10px 0 0;padding:8px 16px;border:0;border-radius:8px;background:var(--blue);color:#fff;font-family:inherit;font-size:16px;font-weight:600;cursor:pointer}
button:disabled{opacity:.6;cursor:progress}
.msg{margin:0 0 16px;padding:12px 14px;border-radius:8px;font-weight:600;background:#fdecea;border:1px solid #f2c4bf;color:var(--bad)}
.controls{display:grid;gap:12px;align-items:end;grid-template-columns:1fr}
.controls p{margin:0}
.controls button{margin:0}
@media (min-width:760px){.controls{grid-template-columns:minmax(16rem,2fr) 1fr auto}}
.groups{display:grid;gap:16px;grid-template-columns:1fr}
@media (min-width:760px){.groups{grid-template-columns:1fr 1fr}}
@media (min-width:1100px){.groups{grid-template-columns:1fr 2fr 1fr 1fr}}
dl.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));gap:8px;margin:0}
dl.tiles div{border:1px solid var(--line);border-radius:8px;padding:8px 10px;background:#fbfaf7}
dt{color:var(--muted);font-size:14px}
dd{margin:2px 0 0;font-size:24px;font-weight:700;line-height:1.2;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
@media (max-width:600px){dd{font-size:21px}}
.cols{display:grid;gap:16px;grid-template-columns:minmax(0,1fr)}
@media (min-width:960px){.cols{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
.chart{position:relative;height:300px}
@media (max-width:600px){.chart{height:240px}}
.row{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:8px;margin:0 0 8px}
.row h2{margin:0}
fieldset.toggle{display:flex;gap:0;margin:0;padding:0;border:0}
fieldset.toggle legend{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
fieldset.toggle label{margin:0;font-weight:600}
fieldset.toggle input{position:absolute;opacity:0}
fieldset.toggle span{display:inline-block;min-width:4.5rem;padding:8px 12px;border:2px solid var(--blue);color:var(--blue);text-align:center;cursor:pointer}
fieldset.toggle label:first-of-type span{border-radius:8px 0 0 8px}
fieldset.toggle label:last-of-type span{border-radius:0 8px 8px 0;border-left:0}
fieldset.toggle input:checked+span{background:var(--blue);color:#fff}
fieldset.toggle input:focus-visible+span{outline:3px solid #8ab4f8;outline-offset:2px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:15px}
caption{text-align:left;color:var(--muted);font-size:14px;padding:0 0 6px}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{border-bottom:2px solid var(--ink);font-size:14px;white-space:nowrap}
.num{text-align:right;white-space:nowrap}
.nw{white-space:nowrap}
td.empty{color:var(--muted);font-style:italic}
table.cohorts td{text-align:center;min-width:3.6rem;border:2px solid var(--card)}
table.cohorts small{display:block;font-size:12px;white-space:nowrap}
.big{font-size:28px;font-weight:700}
details{margin-top:8px}
summary{cursor:pointer;color:var(--blue);font-weight:600;min-height:32px}
.kv{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0 0 10px}
""".strip()

# Plain JavaScript, no framework. Every API string goes into the page through
# textContent or setAttribute, never as HTML. Every number carries data-stat: counts are
# plain integers (formatted copy in the title), rates are percentages with at most one
# decimal (the % sign is outside the element, the raw fraction is in data-value).
_SCRIPT = r"""
(function(){"use strict";
var d=document,TOKEN_KEY="qrc.operatorToken",CAMPAIGN_KEY="qrc.campaign",GRAN_KEY="qrc.granularity";
var MSG_401="Your token was refused or has expired. Paste a new operator token to continue.";
function $(i){return d.getElementById(i)}
function get(k){try{return sessionStorage.getItem(k)}catch(e){return null}}
function put(k,v){try{if(v==null)sessionStorage.removeItem(k);else sessionStorage.setItem(k,v)}catch(e){}}
// The API lives under the same prefix as this page (an API Gateway stage such as /api).
var base=location.pathname.replace(/\/dashboard\/?$/,"");
var every=parseInt(new URLSearchParams(location.search).get("refresh")||"",10);
every=isNaN(every)?30:Math.max(1,Math.min(every,3600));
var token=get(TOKEN_KEY),campaigns=[],current=null,gen=0,busy=false,timer=null,charts={},lastOk=null;
var granularity=get(GRAN_KEY)==="hour"?"hour":"day";

function el(tag,text,cls){var e=d.createElement(tag);if(text!=null)e.textContent=String(text);if(cls)e.className=cls;return e}
function clear(e){while(e.firstChild)e.removeChild(e.firstChild);return e}
function pad(n){return(n<10?"0":"")+n}
function hms(t){return pad(t.getHours())+":"+pad(t.getMinutes())+":"+pad(t.getSeconds())}
function intText(v){if(v==null||v===""||isNaN(Number(v)))return"\u2013";return String(Math.round(Number(v)))}
function pctText(r){if(r==null||isNaN(Number(r)))return"\u2013";return String(Math.round(Number(r)*1000)/10)}
function setInt(e,v){e.textContent=intText(v);var n=Number(v);e.title=v==null||isNaN(n)?"":n.toLocaleString();e.setAttribute("data-value",v==null?"":String(v));return e}
function intEl(tag,key,v,cls){var e=el(tag,null,cls);e.setAttribute("data-stat",key);return setInt(e,v)}
function pctEl(tag,key,r,cls){var e=el(tag,null,cls),s=el("span",pctText(r));s.setAttribute("data-stat",key);s.setAttribute("data-value",r==null?"":String(r));
e.appendChild(s);if(r!=null&&!isNaN(Number(r)))e.appendChild(d.createTextNode("%"));return e}
function path(o,p){return p.split(".").reduce(function(a,k){return a==null?a:a[k]},o)}
function when(s,tz){if(!s)return"\u2013";var t=new Date(s);if(isNaN(t))return String(s);
try{return t.toLocaleString(undefined,{timeZone:tz||undefined,year:"numeric",month:"short",day:"numeric",hour:"2-digit",minute:"2-digit"})}catch(e){return t.toLocaleString()}}
var MON=["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"];
// Bucket starts carry the campaign's own offset: read the local date and hour off the string.
function bucketLabel(s,g){var m=/^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d))?/.exec(String(s));if(!m)return String(s);
var day=parseInt(m[3],10)+" "+MON[parseInt(m[2],10)-1];return g==="hour"&&m[4]!=null?day+" "+m[4]+":"+m[5]:day}
function instant(t){return t.toISOString().replace(/\.\d{3}Z$/,"+00:00")}

function say(t){var m=$("msg");m.textContent=t||"";m.hidden=!t}
function problem(e){
if(!e||e.status==null)return"Something went wrong in this page"+(e&&e.message?": "+e.message:".");
var detail=e.body&&e.body.error&&e.body.error.message?" ("+e.body.error.message+")":"";
var kept=lastOk?" Showing the numbers from "+hms(lastOk)+".":"";
if(e.status===0)return"Could not reach the server; trying again every "+every+" s."+kept;
if(e.status===403)return"Your token does not allow reading this campaign"+detail+".";
if(e.status===404)return"Not found: this campaign does not exist or belongs to another brand"+detail+".";
if(e.status===400)return"The server refused the request"+detail+".";
if(e.status===429||e.status>=500)return"The server is busy or had a problem (HTTP "+e.status+"); trying again every "+every+" s."+kept;
return"The server answered HTTP "+e.status+detail+"."}
function api(p){
var c=window.AbortController?new AbortController():null,t=setTimeout(function(){if(c)c.abort()},20000);
return fetch(base+p,{headers:{"Authorization":"Bearer "+token,"Accept":"application/json"},cache:"no-store",credentials:"omit",signal:c?c.signal:undefined})
.then(function(r){return r.json().catch(function(){return null}).then(function(b){clearTimeout(t);
if(!r.ok)throw{status:r.status,body:b};return b})},function(){clearTimeout(t);throw{status:0,body:null}})}

// --- sign-in ---------------------------------------------------------------------------
function claimsOf(t){try{var p=t.split(".")[1].replace(/-/g,"+").replace(/_/g,"/");while(p.length%4)p+="=";
return JSON.parse(decodeURIComponent(Array.prototype.map.call(atob(p),function(c){return"%"+("0"+c.charCodeAt(0).toString(16)).slice(-2)}).join("")))}catch(e){return null}}
function showSignIn(text){stop();token=null;put(TOKEN_KEY,null);reset();$("app").hidden=true;$("who-box").hidden=true;
var m=$("signin-msg");m.textContent=text||"";m.hidden=!text;$("signin").hidden=false;$("token").value="";$("token").focus()}
function reset(){gen++;busy=false;campaigns=[];current=null;lastOk=null;Object.keys(charts).forEach(function(k){charts[k].destroy()});charts={};
$("panel").hidden=true;say("");clear($("campaign"));$("updated-at").textContent="";$("updated-at").removeAttribute("datetime");$("updated").hidden=true;
Array.prototype.forEach.call(d.querySelectorAll("#totals [data-stat]"),function(e){setInt(e,null)})}
function signedIn(){var c=claimsOf(token)||{},who=$("who");
who.textContent="Signed in as "+(c.sub||"operator")+(c.role?" \u00b7 "+c.role:"")+(c.brand?" \u00b7 "+c.brand:"");
$("signin").hidden=true;$("who-box").hidden=false;$("app").hidden=false;loadCampaigns();
stop();timer=setInterval(function(){if(busy||d.hidden)return;if(current)refresh(false);else loadCampaigns()},every*1000)}
function stop(){if(timer)clearInterval(timer);timer=null}
$("f-signin").addEventListener("submit",function(ev){ev.preventDefault();
var v=$("token").value.trim().replace(/^Bearer\s+/i,""),m=$("signin-msg");
function no(t){m.textContent=t;m.hidden=false;$("token").focus()}
if(!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(v))return no("That is not an operator token: paste the whole token, three parts separated by dots.");
var c=claimsOf(v);if(c&&typeof c.exp==="number"&&c.exp*1000<Date.now())return no("This token expired at "+new Date(c.exp*1000).toLocaleString()+": ask for a new one.");
token=v;put(TOKEN_KEY,v);$("token").value="";m.hidden=true;signedIn()});
$("b-out").addEventListener("click",function(){put(CAMPAIGN_KEY,null);if(location.hash)history.replaceState(null,"",location.pathname+location.search);showSignIn("")});

// --- campaigns -------------------------------------------------------------------------
function hashCampaign(){var m=/(?:^#|&)campaign=([^&]*)/.exec(location.hash);try{return m?decodeURIComponent(m[1]):null}catch(e){return null}}
function known(id){return campaigns.some(function(c){return c.campaign_id===id})}
function loadCampaigns(){var my=gen,all=[],pages=0;say("");busy=true;
function page(cursor){return api("/v1/campaigns?limit=100"+(cursor?"&cursor="+encodeURIComponent(cursor):"")).then(function(b){
all=all.concat((b&&b.items)||[]);pages++;return b&&b.next_cursor&&pages<200?page(b.next_cursor):all})}
return page(null).then(function(list){if(my!==gen)return;busy=false;campaigns=list;var s=clear($("campaign"));
list.forEach(function(c){var o=el("option",(c.name||c.campaign_id)+" \u2014 "+(c.status||""));o.value=c.campaign_id;s.appendChild(o)});
if(!list.length){say("This brand has no campaigns yet.");return}
var want=hashCampaign(),pick=known(want)?want:known(get(CAMPAIGN_KEY))?get(CAMPAIGN_KEY):list[0].campaign_id;
if(want&&!known(want))say("The campaign in the link ("+want+") is not one of this brand's campaigns.");
choose(pick)},function(e){if(my!==gen)return;busy=false;if(e.status===401)return showSignIn(MSG_401);say(problem(e))})}
function choose(id){if(!id)return;var changed=id!==current;current=id;put(CAMPAIGN_KEY,id);$("campaign").value=id;
var h="#campaign="+encodeURIComponent(id);if(location.hash!==h)history.replaceState(null,"",location.pathname+location.search+h);
var c=campaigns.filter(function(x){return x.campaign_id===id})[0]||{};
$("campaign-info").textContent=[c.status,c.starts_at&&c.ends_at?when(c.starts_at,c.timezone)+" \u2013 "+when(c.ends_at,c.timezone):"",c.timezone].filter(Boolean).join(" \u00b7 ");
if(changed){lastOk=null;$("panel").hidden=true;$("updated").hidden=true;say("")}refresh(true)}
$("campaign").addEventListener("change",function(){choose(this.value)});
window.addEventListener("hashchange",function(){var id=hashCampaign();if(id&&id!==current&&known(id))choose(id)});
$("b-refresh").addEventListener("click",function(){if(current)refresh(true);else if(token)loadCampaigns()});
Array.prototype.forEach.call(d.querySelectorAll("input[name=granularity]"),function(r){r.checked=r.value===granularity;
r.addEventListener("change",function(){if(!this.checked)return;granularity=this.value;put(GRAN_KEY,granularity);refresh(true)})});

// --- refresh ---------------------------------------------------------------------------
function seriesQuery(){if(granularity!=="hour")return"?granularity=day";
var now=new Date(),from=new Date(now.getTime());from.setUTCMinutes(0,0,0);from=new Date(from.getTime()-47*3600e3);
return"?granularity=hour&from="+encodeURIComponent(instant(from))+"&to="+encodeURIComponent(instant(now))}
function settle(p){return p.then(function(v){return{ok:true,value:v}},function(e){return{ok:false,error:e}})}
function refresh(force){if(!token||!current||(busy&&!force))return;
var my=++gen,p="/v1/campaigns/"+encodeURIComponent(current)+"/stats",tz=(campaigns.filter(function(c){return c.campaign_id===current})[0]||{}).timezone;
busy=true;$("b-refresh").disabled=true;$("panel").setAttribute("aria-busy","true");
Promise.all([settle(api(p)),settle(api(p+"/timeseries"+seriesQuery())),settle(api(p+"/batches")),settle(api(p+"/participants"))]).then(function(rs){
if(my!==gen)return;busy=false;$("b-refresh").disabled=false;$("panel").removeAttribute("aria-busy");
var errors=rs.filter(function(r){return!r.ok}).map(function(r){return r.error});
if(errors.some(function(e){return e&&e.status===401}))return showSignIn(MSG_401);
var shown=0,draw=[renderTotals,renderSeries,renderBatches,renderParticipants];
rs.forEach(function(r,i){if(!r.ok)return;try{draw[i](r.value,tz);shown++}catch(e){errors.push(e)}});
if(shown)$("panel").hidden=false;
if(!errors.length){lastOk=new Date();var u=$("updated-at");u.textContent=hms(lastOk);u.setAttribute("datetime",lastOk.toISOString());$("updated").hidden=false;say("")}
else say(problem(errors[0]))})}
d.addEventListener("visibilitychange",function(){if(!d.hidden&&!busy&&current&&lastOk&&Date.now()-lastOk>every*1000)refresh(false)});

// --- rendering -------------------------------------------------------------------------
function table(body,rows,cols,emptyText){clear(body);if(!rows.length){var tr=el("tr"),td=el("td",emptyText,"empty");td.colSpan=cols;tr.appendChild(td);body.appendChild(tr)}
rows.forEach(function(r){body.appendChild(r)})}
function row(cells){var tr=el("tr");cells.forEach(function(c){tr.appendChild(c)});return tr}
function rowHead(text,cls){var th=el("th",text,cls);th.scope="row";return th}
function chart(id,config){if(!window.Chart)return;var c=charts[id];
if(c){c.data.labels=config.data.labels;c.data.datasets=config.data.datasets;c.update("none");return}
charts[id]=new Chart($(id),config)}
var FONT={family:'system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif',size:13};
function options(stacked){return{animation:false,responsive:true,maintainAspectRatio:false,interaction:{mode:"index",intersect:false},
plugins:{legend:{position:"bottom",labels:{color:"#1b1b1b",font:FONT}},tooltip:{titleFont:FONT,bodyFont:FONT}},
scales:{x:{stacked:stacked,ticks:{color:"#4f4f4f",font:FONT,maxRotation:0,autoSkip:true},grid:{display:false}},
y:{stacked:stacked,beginAtZero:true,ticks:{color:"#4f4f4f",font:FONT,precision:0},grid:{color:"#e7e4dc"}}}}}

function renderTotals(s,tz){Array.prototype.forEach.call(d.querySelectorAll("#totals [data-stat]"),function(e){setInt(e,path(s,e.getAttribute("data-stat")))});
var rows=(s.prizes||[]).map(function(z){var k="prize."+z.prize_id+".";
return row([rowHead(z.name),intEl("td",k+"quantity",z.quantity,"num"),intEl("td",k+"awarded",z.awarded,"num"),intEl("td",k+"left",z.left,"num")])});
table($("prizes-body"),rows,4,"This campaign has no instant-win prizes.");
$("as-of").textContent=s.as_of?"Counted up to "+when(s.as_of,s.timezone||tz):""}
var REFUSED=["duplicate","invalid","refused_cap","refused_rate","refused_inactive"];
function refused(b){return REFUSED.reduce(function(a,k){return a+(Number(b[k])||0)},0)}
function renderSeries(t){var bs=(t&&t.buckets)||[],g=t.granularity||granularity,labels=bs.map(function(b){return bucketLabel(b.start,g)});
$("series-range").textContent=(g==="hour"?"By hour, last 48 hours":"By day")+(t.from&&t.to?", "+bucketLabel(t.from,g)+" \u2013 "+bucketLabel(t.to,g):"")+(t.timezone?" ("+t.timezone+")":"");
chart("c-series",{type:"bar",data:{labels:labels,datasets:[
{type:"bar",label:"Granted",data:bs.map(function(b){return Number(b.granted)||0}),backgroundColor:"#2e7d4f",stack:"scans",order:2},
{type:"bar",label:"Refused",data:bs.map(refused),backgroundColor:"#c0392b",stack:"scans",order:2},
{type:"line",label:"New participants",data:bs.map(function(b){return Number(b.new_participants)||0}),borderColor:"#1558b0",backgroundColor:"#1558b0",stack:"new",order:1,pointRadius:2,borderWidth:2,tension:.2}]},
options:options(true)});
var rows=bs.map(function(b,i){var k="series."+b.start+".";return row([rowHead(labels[i],"nw"),intEl("td",k+"granted",b.granted,"num"),intEl("td",k+"refused",refused(b),"num"),
intEl("td",k+"new_participants",b.new_participants,"num"),intEl("td",k+"returning_participants",b.returning_participants,"num"),intEl("td",k+"points",b.points,"num")])});
table($("series-body"),rows,6,"No time buckets in this range.")}
function renderBatches(b){
table($("batches-body"),((b&&b.batches)||[]).map(function(x){var k="batch."+x.batch_id+".",th=intEl("th",k+"batch_number",x.batch_number,"num");th.scope="row";
return row([th,el("td",x.label||"\u2013"),el("td",x.sku||"\u2013","nw"),el("td",x.status||"","nw"),
intEl("td",k+"quantity",x.quantity,"num"),intEl("td",k+"claims",x.claims,"num"),pctEl("td",k+"redemption_rate",x.redemption_rate,"num")])}),7,"No batches minted yet.");
table($("skus-body"),((b&&b.skus)||[]).map(function(x){var k="sku."+x.sku+".";
return row([rowHead(x.sku,"nw"),intEl("td",k+"batches",x.batches,"num"),intEl("td",k+"quantity",x.quantity,"num"),intEl("td",k+"claims",x.claims,"num"),pctEl("td",k+"redemption_rate",x.redemption_rate,"num")])}),5,"No SKUs yet.")}
function shade(td,rate){var r=Math.max(0,Math.min(1,Number(rate)||0));
td.style.backgroundColor="rgba(21,88,176,"+(0.06+0.94*r).toFixed(3)+")";td.style.color=r>0.45?"#fff":"#1b1b1b"}
function renderParticipants(p,tz){
setInt($("p-count"),p.participants);var rr=clear($("p-repeat"));rr.appendChild(pctEl("span","repeat_rate",p.repeat_rate));
var h=p.histogram||[];
chart("c-hist",{type:"bar",data:{labels:h.map(function(x){return String(x.claims)}),datasets:[{label:"Participants",data:h.map(function(x){return Number(x.participants)||0}),backgroundColor:"#1558b0"}]},
options:(function(o){o.plugins.legend.display=false;o.scales.x.title={display:true,text:"Claims per participant",color:"#4f4f4f",font:FONT};return o})(options(false))});
table($("hist-body"),h.map(function(x){return row([rowHead(String(x.claims)),intEl("td","histogram."+x.claims,x.participants,"num")])}),2,"No participants yet.");
var cs=p.cohorts||[],weeks=cs.reduce(function(a,c){return Math.max(a,(c.retention||[]).length)},0),head=clear($("cohort-head")),hr=el("tr");
[["Cohort (week of)"],["Size","num"]].concat(Array.from({length:weeks},function(_,k){return["Week "+k,"num"]})).forEach(function(x){var th=el("th",x[0],x[1]);th.scope="col";hr.appendChild(th)});head.appendChild(hr);
table($("cohort-body"),cs.map(function(c){var k="cohort."+c.week+".",cells=[rowHead(c.week,"nw"),intEl("td",k+"participants",c.participants,"num")];
for(var i=0;i<weeks;i++){var r=(c.retention||[])[i],td=el("td");
if(r){td.appendChild(pctEl("span",k+r.week+".rate",r.rate));var n=el("small");n.appendChild(intEl("span",k+r.week,r.participants));n.appendChild(d.createTextNode(" people"));td.appendChild(n);
td.title=r.participants+" of "+c.participants+" came back in week "+r.week;shade(td,r.rate)}cells.push(td)}
return row(cells)}),2+weeks,"No cohorts yet.");
table($("top-body"),(p.top||[]).map(function(t){var k="top."+t.rank+".",th=intEl("th",k+"rank",t.rank,"num");th.scope="row";
return row([th,el("td",t.phone||t.shopper_id||"\u2013","nw"),intEl("td",k+"claims",t.claims,"num"),intEl("td",k+"points",t.points,"num"),intEl("td",k+"entries",t.entries,"num"),
el("td",when(t.first_claim_at,tz),"nw"),el("td",when(t.last_claim_at,tz),"nw")])}),7,"No participants yet.")}

if(token){var c0=claimsOf(token);if(c0&&typeof c0.exp==="number"&&c0.exp*1000<Date.now())showSignIn(MSG_401);else signedIn()}else showSignIn("")})();
""".strip()


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


class _Built(NamedTuple):
    page: str
    policy: str


def _chart_js() -> str:
    try:
        source = CHART_JS_PATH.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuntimeError(
            f"the dashboard's Chart.js build is missing ({CHART_JS_PATH}): run `bash scripts/setup.sh`, "
            "which copies it from node_modules/chart.js"
        ) from None
    # The map file is not served: drop the comment so developer tools do not ask for it.
    source = re.sub(r"\n//# sourceMappingURL=\S*\s*$", "\n", source)
    lowered = source.lower()
    if "</script" in lowered or "<!--" in lowered:
        raise RuntimeError(f"{CHART_JS_PATH} cannot be inlined in a <script> element: it contains '</script' or '<!--'")
    return source


def _tiles() -> str:
    e = html.escape
    groups = []
    for title, tiles in TOTALS:
        items = "".join(f'<div><dt>{e(label)}</dt><dd data-stat="{e(key)}">\u2013</dd></div>' for key, label in tiles)
        groups.append(f'<section class="card" aria-label="{e(title)}"><h3>{e(title)}</h3><dl class="tiles">{items}</dl></section>')
    return "".join(groups)


def _thead(*columns: str) -> str:
    """A header row; a column named with a leading '#' is numeric (right-aligned)."""
    cells = "".join(
        f'<th scope="col" class="num">{html.escape(c[1:])}</th>' if c.startswith("#") else f'<th scope="col">{html.escape(c)}</th>'
        for c in columns
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _table(caption: str, body_id: str, *columns: str) -> str:
    """A table that scrolls sideways on a narrow screen; the script fills its body."""
    label = html.escape(caption)
    return (f'<div class="scroll" tabindex="0" role="region" aria-label="{label}"><table><caption>{label}</caption>'
            f'{_thead(*columns)}<tbody id="{body_id}"></tbody></table></div>')


def _body() -> str:
    return (
        '<header class="top"><div class="wrap"><h1>Campaign dashboard</h1>'
        '<div id="who-box" hidden><span id="who"></span><button id="b-out" type="button">Sign out</button></div>'
        '</div></header><main class="wrap">'
        '<noscript><p class="msg">This dashboard needs JavaScript.</p></noscript>'
        # Sign-in: the token is pasted, kept in this tab's sessionStorage and nowhere else.
        '<section id="signin" class="card narrow" aria-labelledby="signin-h" hidden><h2 id="signin-h">Sign in</h2>'
        '<p id="signin-msg" class="msg" role="alert" hidden></p><form id="f-signin" novalidate>'
        '<label for="token">Operator token</label>'
        '<textarea id="token" name="token" rows="4" autocomplete="off" autocapitalize="off" spellcheck="false" '
        'aria-describedby="token-hint"></textarea>'
        '<p id="token-hint" class="muted">Paste the operator token (JWT) you were given. It is kept in this browser tab '
        'only and forgotten when you sign out or close the tab.</p>'
        '<button id="b-signin" type="submit">Sign in</button></form></section>'
        '<div id="app" hidden>'
        '<section class="card controls" aria-label="Campaign">'
        '<div><label for="campaign">Campaign</label><select id="campaign"></select></div>'
        '<div><p id="campaign-info" class="muted"></p>'
        '<p id="updated" class="muted" aria-live="polite" hidden>Updated at <time id="updated-at" data-stat="updated_at"></time></p></div>'
        '<button id="b-refresh" type="button">Refresh now</button></section>'
        '<p id="msg" class="msg" role="alert" hidden></p>'
        '<div id="panel" hidden>'
        f'<h2>Totals</h2><p id="as-of" class="muted"></p><div id="totals" class="groups">{_tiles()}</div>'
        '<div class="cols">'
        f'<section class="card" aria-labelledby="prizes-h"><h2 id="prizes-h">Prizes</h2>'
        f'{_table("Instant-win prizes: awarded and left", "prizes-body", "Prize", "#Quantity", "#Awarded", "#Left")}</section>'
        f'<section class="card" aria-labelledby="skus-h"><h2 id="skus-h">Products (SKU)</h2>'
        f'{_table("Claims and redemption rate per SKU", "skus-body", "SKU", "#Batches", "#Quantity", "#Claims", "#Redeemed")}'
        '</section></div>'
        '<section class="card" aria-labelledby="series-h"><div class="row"><h2 id="series-h">Scans over time</h2>'
        '<fieldset class="toggle"><legend>Group scans by</legend>'
        '<label><input type="radio" name="granularity" value="day" checked><span>Day</span></label>'
        '<label><input type="radio" name="granularity" value="hour"><span>Hour</span></label></fieldset></div>'
        '<p id="series-range" class="muted"></p>'
        '<div class="chart"><canvas id="c-series" role="img" aria-label="Granted and refused scans and new participants over time">'
        'Granted and refused scans and new participants over time; the table below has the same numbers.</canvas></div>'
        '<details><summary>Show as a table</summary>'
        f'{_table("Scans per time bucket", "series-body", "Start", "#Granted", "#Refused", "#New participants", "#Returning participants", "#Points")}'
        '</details></section>'
        f'<section class="card" aria-labelledby="batches-h"><h2 id="batches-h">Batches</h2>'
        f'{_table("Claims and redemption rate per print batch", "batches-body", "#Batch", "Label", "SKU", "Status", "#Quantity", "#Claims", "#Redeemed")}'
        '</section>'
        '<div class="cols">'
        '<section class="card" aria-labelledby="hist-h"><h2 id="hist-h">Claims per participant</h2>'
        '<div class="kv"><p>Participants <span class="big" id="p-count" data-stat="participants.count">\u2013</span></p>'
        '<p>Repeat rate <span class="big" id="p-repeat"><span data-stat="repeat_rate">\u2013</span></span></p></div>'
        '<div class="chart"><canvas id="c-hist" role="img" aria-label="Participants by number of claims">'
        'Participants by number of claims; the table below has the same numbers.</canvas></div>'
        '<details><summary>Show as a table</summary>'
        f'{_table("Participants by number of claims", "hist-body", "Claims", "#Participants")}</details></section>'
        '<section class="card" aria-labelledby="cohort-h"><h2 id="cohort-h">Weekly cohort retention</h2>'
        '<p class="muted">Each row is the participants whose first claim fell in that week; week <i>k</i> is the share '
        'of them who claimed again <i>k</i> weeks later.</p>'
        '<div class="scroll" tabindex="0" role="region" aria-label="Weekly cohort retention"><table class="cohorts">'
        '<caption>Retention by weekly cohort</caption><thead id="cohort-head"></thead><tbody id="cohort-body"></tbody>'
        '</table></div></section></div>'
        '<section class="card" aria-labelledby="top-h"><h2 id="top-h">Top 20 participants</h2>'
        f'{_table("The 20 participants with the most claims", "top-body", "#Rank", "Phone", "#Claims", "#Points", "#Entries", "First claim", "Last claim")}'
        '</section>'
        "</div></div></main>"
    )


@functools.cache
def _built() -> _Built:
    # Built once per process: the page has no per-request content, so the policy's
    # hashes are constants too. A missing asset raises and is retried next call.
    chart_js = _chart_js()
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
        f"<title>Campaign dashboard</title><style>{_STYLE}</style></head>"
        f"<body>{_body()}<script>{chart_js}</script><script>{_SCRIPT}</script></body></html>"
    )
    policy = (
        f"default-src 'none'; script-src {_csp_hash(chart_js)} {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return _Built(page, policy)


def render_dashboard() -> str:
    """The whole dashboard page; it signs in and reads the statistics API from the browser."""
    return _built().page


def content_security_policy() -> str:
    """Only the page's own inline script and style blocks (by hash), API calls to its own origin."""
    return _built().policy


def response_headers() -> dict[str, str]:
    """Headers for the dashboard answer."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
