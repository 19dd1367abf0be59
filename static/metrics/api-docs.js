// Starts the vendored Swagger UI on /api/v1/docs with the settings the page carries as JSON
// (a static file, so the Content Security Policy needs no inline script).
(function () {
  "use strict";
  const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  settings.presets = [window.SwaggerUIBundle.presets.apis];
  window.SwaggerUIBundle(settings);

  // What Swagger UI leaves unreachable to assistive technology, mended as it renders: the media type pickers
  // have no label, and an example too wide for its box scrolls but cannot be reached with the keyboard.
  const root = document.getElementById("swagger-ui");
  function mend() {
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
