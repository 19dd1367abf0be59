// Error responses a page answers for itself (issue 14, item 9). A view that refuses a request with the page's own
// message (a 400 for GET parameters it does not offer, such as the dashboard's custom period it cannot show: every
// refusal goes through e360/htmx.py, bad_request) names where that message goes with HX-Retarget
// (django_htmx.http.retarget): htmx swaps it there instead of leaving the page unchanged (its default for 4xx), so
// the page stays and says what is wrong.
//
// Under DEBUG, django-htmx's debug script replaces the whole document with any 400/403/404/500 response (useful for
// Django's error pages); it listens on the document, so this capture listener on the window keeps it away from the
// responses the page answers itself. Every other error still reaches it.
(function () {
  "use strict";

  function answeredInPlace(xhr) {
    return !!xhr && xhr.status >= 400 && xhr.status < 500 && !!xhr.getResponseHeader("HX-Retarget");
  }

  window.addEventListener(
    "htmx:beforeOnLoad",
    function (event) {
      if (answeredInPlace(event.detail.xhr)) event.stopPropagation();
    },
    true
  );

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (answeredInPlace(event.detail.xhr)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
