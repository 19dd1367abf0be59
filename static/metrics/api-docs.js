// Starts the vendored Swagger UI on /api/v1/docs with the settings the page carries as JSON
// (a static file, so the Content Security Policy needs no inline script).
(function () {
  "use strict";
  const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  settings.presets = [window.SwaggerUIBundle.presets.apis];
  window.SwaggerUIBundle(settings);
})();
