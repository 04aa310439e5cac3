"""The view's static files: its CSS (added to the HTML report's), its script, its icon."""

from __future__ import annotations

VIEW_STYLE = """
.topbar{display:flex;align-items:center;justify-content:space-between;max-width:960px;\
margin:0 auto;padding:12px 20px;background:var(--bg);border-bottom:1px solid var(--line)}
.topbar h1{font-size:1.2rem;margin:0}
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid var(--time);\
background:var(--time);color:#fff;cursor:pointer}
button.link{background:none;color:var(--time);border-color:var(--line)}
.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;\
align-items:start;margin:0 0 8px}
.field{display:flex;flex-direction:column;gap:4px;min-width:0}
.field label{font-size:.85rem;color:var(--muted)}
.field input,.field select{font:inherit;padding:5px 6px;border:1px solid var(--line);\
border-radius:6px;background:var(--bg);color:var(--fg);min-width:0;width:100%}
.field button{margin-top:22px}
.field input[type=date]{padding-right:4px}
.field input[type=date]::-webkit-calendar-picker-indicator{margin-left:10px}
[aria-invalid=true]{border-color:#b3261e!important;outline:1px solid #b3261e}
.error{color:#b3261e;font-size:.85rem;overflow-wrap:anywhere}
.asked{color:var(--muted);font-size:.9rem}
.tall{max-height:28rem;overflow:auto;border-bottom:1px solid var(--line);\
background:linear-gradient(var(--bg) 30%,transparent) top/100% 28px no-repeat local,\
linear-gradient(transparent,var(--bg) 70%) bottom/100% 28px no-repeat local,\
linear-gradient(rgba(0,0,0,.14),transparent) top/100% 10px no-repeat scroll,\
linear-gradient(transparent,rgba(0,0,0,.14)) bottom/100% 10px no-repeat scroll}
.notice{background:var(--line);padding:8px 10px;border-radius:6px}
.pages{display:flex;gap:16px;align-items:center;margin:8px 0;font-size:.9rem}
.signin{max-width:420px;margin-top:10vh;border-radius:8px}
.signin form{display:flex;flex-direction:column;gap:8px}
.signin input{font:inherit;padding:8px;border:1px solid var(--line);border-radius:6px}
code{font-size:.9em}
.views{display:flex;gap:14px;margin-right:auto;margin-left:24px}
.views a{color:var(--time);text-decoration:none;padding:2px 0}
.views a[aria-current=page]{color:var(--fg);font-weight:600;border-bottom:2px solid var(--time)}
"""

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect x="2" y="8" width="3" height="6" fill="#0072B2"/>'
    '<rect x="6.5" y="4" width="3" height="10" fill="#0072B2"/>'
    '<rect x="11" y="2" width="3" height="12" fill="#D55E00"/></svg>'
)

SCRIPT = """\
// The Metrics view: the browser's time zone when the URL names none; a
// changed select shows its report at once (the form works without this).
"use strict";
(function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  var signIn = document.getElementById("signin-tz");
  if (signIn) signIn.value = zone;  // signing in lands on the browser's zone at once
  var form = document.getElementById("filters");
  if (!form) return;
  if (zone && !new URLSearchParams(location.search).has("tz")) {
    form.elements.namedItem("tz").value = zone;
    location.replace(location.pathname + "?" + new URLSearchParams(new FormData(form)));
    return;
  }
  form.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement) form.requestSubmit();
  });
})();
"""
