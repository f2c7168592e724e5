// Progressive enhancement for Hindsight's forms. Every page works without this file:
// the editor's Preview button and the server-rendered panels do the same job on submit.
(function () {
  "use strict";

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, wait);
    };
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Live preview: the server renders and sanitizes the Markdown exactly as it will be stored.
  function setUpPreview(form) {
    var url = form.getAttribute("data-preview-url");
    var body = form.querySelector("textarea[name=body]");
    var target = form.querySelector("#preview") || document.getElementById("preview");
    if (!url || !body || !target) return;
    var sequence = 0;
    var refresh = debounce(function () {
      var mine = ++sequence;
      var data = new FormData();
      data.append("csrfmiddlewaretoken", csrfToken(form));
      data.append("body", body.value);
      var title = form.querySelector("input[name=title]");
      if (title) data.append("title", title.value);
      var team = form.getAttribute("data-team") || (form.querySelector("[name=team]") || {}).value || "";
      data.append("team", team);
      fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrfToken(form) },
      })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (mine === sequence) {
            target.innerHTML = html;
            target.setAttribute("data-state", "live");
          }
        })
        .catch(function () { /* the Preview button still works */ });
    }, 400);
    body.addEventListener("input", refresh);
    refresh();
  }

  // "Similar past incidents" while filing: refreshed from the title, causes and services typed so far.
  function setUpSimilar(form) {
    var url = form.getAttribute("data-similar-url");
    var target = document.getElementById("similar");
    if (!url || !target) return;
    var sequence = 0;
    var refresh = debounce(function () {
      var mine = ++sequence;
      var params = new URLSearchParams();
      var title = form.querySelector("input[name=title]");
      if (title) params.append("title", title.value);
      form.querySelectorAll("input[name=causes]:checked").forEach(function (box) { params.append("causes", box.value); });
      form.querySelectorAll("input[data-cause-id]:checked").forEach(function (box) {
        params.append("causes", box.getAttribute("data-cause-id"));
      });
      form.querySelectorAll("input[name=services]:checked").forEach(function (box) { params.append("services", box.value); });
      var service = form.querySelector("select[name=service]");
      if (service && service.value) params.append("service", service.value);
      var exclude = form.getAttribute("data-exclude");
      if (exclude) params.append("exclude", exclude);
      fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.text(); })
        .then(function (html) { if (mine === sequence) target.innerHTML = html; })
        .catch(function () { /* the panel keeps its last content */ });
    }, 500);
    form.addEventListener("input", function (event) {
      var name = event.target.getAttribute("name") || "";
      if (name === "title" || name === "causes" || name === "services" || name === "service" || event.target.hasAttribute("data-cause-id")) {
        refresh();
      }
    });
    form.addEventListener("change", function (event) {
      if (event.target.hasAttribute("data-cause-id")) {
        var row = event.target.closest(".cause-row");
        if (row) row.classList.toggle("ticked", event.target.checked);
      }
    });
  }

  // The navigation folds behind a Menu button on small screens (the CSS decides when).
  function setUpMenu(header) {
    var button = header.querySelector(".nav-toggle");
    if (!button) return;
    header.classList.add("menu-folds");
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = header.classList.toggle("menu-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".site-header").forEach(setUpMenu);
    document.querySelectorAll("form[data-preview-url]").forEach(setUpPreview);
    document.querySelectorAll("form[data-similar-url]").forEach(setUpSimilar);
    var errors = document.getElementById("form-errors");
    if (errors) errors.focus();
  });
})();
