"""The HTML report's CSS and its two colours; a served view adds its own rules to it."""

from __future__ import annotations

TIME_COLOR = "#0072B2"  # Okabe-Ito blue: active time (bars)
USERS_COLOR = "#D55E00"  # Okabe-Ito vermillion: active users (line)

STYLE = """\
:root{--fg:#1c2025;--muted:#5a6470;--line:#d5dae0;--soft:#f3f5f7;--bg:#fff;\
--time:#0072B2;--users:#D55E00;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--fg);\
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.report{max-width:960px;margin:0 auto;padding:24px 20px 32px;background:var(--bg)}
.report h1{font-size:1.45rem;margin:0 0 4px}
.report h2{font-size:1.1rem;margin:28px 0 10px}
.scope{margin:0;color:var(--muted)}
.facts{display:flex;flex-wrap:wrap;gap:4px 20px;margin:14px 0 0;padding:0}
.facts div{display:flex;gap:6px}
.facts dt{color:var(--muted)}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.totals{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:12px;margin:18px 0 0;\
padding:0}
.totals div{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.totals dt{color:var(--muted);font-size:.85rem}
.totals dd{margin:0;font-size:1.5rem;font-weight:700;font-variant-numeric:tabular-nums}
.chart{margin:0}
.chart svg{display:block;width:100%;height:auto}
.chart text{font-size:13px;fill:var(--muted)}
.chart .axis-time{fill:var(--time)}
.chart .axis-users{fill:var(--users)}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .bar{fill:var(--time)}
.chart .users{fill:none;stroke:var(--users);stroke-width:2.5;stroke-linejoin:round}
.chart .dot{fill:var(--bg);stroke:var(--users);stroke-width:2}
.chart .hit{fill:#000;fill-opacity:0}
.chart .slot:hover .hit{fill-opacity:.06}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;margin:0 0 6px;color:var(--muted);\
font-size:.9rem}
.legend span{display:inline-flex;align-items:center;gap:6px}
.legend svg{width:22px;height:12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;\
vertical-align:middle}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);\
font-weight:600}
.num,.buckets td{text-align:right;white-space:nowrap}
.buckets td:first-child{text-align:left}
td[title]{cursor:help}
.buckets .empty td{color:var(--muted)}
.user{display:flex;align-items:center;gap:10px;min-width:0}
.user bdi{overflow-wrap:break-word;min-width:0}
.avatar{flex:none;width:30px;height:30px;border-radius:6px;overflow:hidden}
.initials{display:inline-flex;align-items:center;justify-content:center;background:#5a6470;\
color:#fff;font-size:.75rem;font-weight:700}
.roles{color:var(--muted);font-size:.9rem}
.share{display:flex;align-items:center;justify-content:flex-end;gap:8px}
.share svg{width:60px;height:8px;flex:none}
.share .track{fill:var(--line)}
.share .fill{fill:var(--time)}
.note{color:var(--muted);margin:10px 0 0}
footer{margin-top:28px;color:var(--muted);font-size:.8rem}
@media (max-width:640px){
body{font-size:14px;background:var(--bg)}
.report{padding:16px 12px 24px}
.totals{gap:8px}
.totals div{padding:8px 10px}
.totals dd{font-size:1.15rem}
.chart text{font-size:24px}
th,td{padding:6px 5px}
th{letter-spacing:0}
.long{display:none}
.chart .minor{display:none}
.users thead{display:none}
.users tr{display:grid;grid-template-columns:minmax(0,1fr) auto 7.2em;\
grid-template-areas:"name name active" "user events share" "roles roles roles";\
gap:2px 12px;padding:10px 0 10px 40px;border-bottom:1px solid var(--line)}
.users td{border:0;padding:0;text-align:left}
.users .name-cell{grid-area:name;margin-left:-40px;font-weight:600}
.users .username{grid-area:user;color:var(--muted);overflow-wrap:anywhere}
.users .events{grid-area:events}
.users .events::after{content:" events";color:var(--muted)}
.users .active{grid-area:active;font-weight:600;text-align:right}
.users .roles{grid-area:roles}
.users .share-cell{grid-area:share}
.users .share-cell .share{justify-content:flex-end}
.share svg{width:40px}
}
@media print{
body{background:#fff;font-size:11pt}
.report{max-width:none;padding:0}
.scroll{overflow:visible}
tr,.totals div,.chart{break-inside:avoid}
h2{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""
