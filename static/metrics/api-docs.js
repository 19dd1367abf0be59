// Starts the vendored Swagger UI on /api/v1/docs with the settings the page carries as JSON
// (a static file, so the Content Security Policy needs no inline script).
(function () {
  "use strict";
  const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  settings.presets = [window.SwaggerUIBundle.presets.apis];
  window.SwaggerUIBundle(settings);

  // What Swagger UI leaves unreachable to assistive technology, mended as it renders: the media type pickers
  // have no label, an example too wide for its box scrolls but cannot be reached with the keyboard, its list of
  // operations is a second <main> inside the page's (a region instead: axe still calls that role on <main> a minor
  // best-practice finding), and its headings skip level 2 (h1, then h3 to h6: each is announced one level up).
  const root = document.getElementById("swagger-ui");
  function mend() {
    root.querySelectorAll("main:not([role])").forEach(function (main) {
      main.setAttribute("role", "region");
      main.setAttribute("aria-label", "Operations");
    });
    root.querySelectorAll("h3:not([aria-level]), h4:not([aria-level]), h5:not([aria-level]), h6:not([aria-level])")
      .forEach(function (heading) {
        heading.setAttribute("aria-level", String(Number(heading.tagName.charAt(1)) - 1));
      });
    root.querySelectorAll("select").forEach(function (select) {
      if (select.labels.length || select.hasAttribute("aria-label")) return;
      const responses = select.closest(".response-control-media-type, .responses-inner");
      select.setAttribute("aria-label", responses ? "Response media type" : "Media type");
    });
    root.querySelectorAll("pre.microlight:not([tabindex])").forEach(function (pre) {
      pre.setAttribute("tabindex", "0");
    });
  }
  new MutationObserver(mend).observe(root, { childList: true, subtree: true });
})();
