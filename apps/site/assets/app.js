// Arena reference site: shows the API's version when the page is served next to it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("status");
  fetch("/v1/version", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .then((body) => { status.textContent = `Live platform, API ${body.version}.`; })
    .catch(() => { /* the static page stays as it is */ });
});
