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

  // The near-miss form's Release box suggests the chosen service's versions (a datalist the server fills).
  function setUpReleaseVersions(list) {
    var form = list.closest("form");
    var service = form && form.querySelector("select[name=service]");
    var url = list.getAttribute("data-url");
    if (!service || !url) return;
    var sequence = 0;
    service.addEventListener("change", function () {
      var mine = ++sequence;
      if (!service.value) { list.innerHTML = ""; return; }
      fetch(url + "?" + new URLSearchParams({ service: service.value }).toString(),
        { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.text(); })
        .then(function (html) { if (mine === sequence) list.innerHTML = html; })
        .catch(function () { /* typing any version still works */ });
    });
  }

  // The editor keeps what you type: a warning before leaving with unsaved text, and a draft in this browser
  // (localStorage, per person and version) that survives a reload or a crash until the form is submitted.
  function setUpDraft(form) {
    var key = form.getAttribute("data-draft-key");
    var fields = Array.prototype.filter.call(form.elements, function (element) {
      return element.name && (element.tagName === "TEXTAREA" || element.type === "text");
    });
    var dirty = false;
    var submitting = false;
    function values() {
      var data = {};
      fields.forEach(function (element) { data[element.name] = element.value; });
      return data;
    }
    function store() {
      if (submitting) return; // a keystroke's delayed save must not bring back a submitted draft
      try {
        window.localStorage.setItem(key, JSON.stringify({ at: new Date().toISOString(), values: values() }));
      } catch (error) { /* storage full or disabled: the warning still works */ }
    }
    var saved = null;
    try { saved = JSON.parse(window.localStorage.getItem(key) || "null"); } catch (error) { saved = null; }
    if (saved && saved.values) {
      var differs = fields.some(function (element) {
        return typeof saved.values[element.name] === "string" && saved.values[element.name] !== element.value;
      });
      if (differs) offerRestore(form, saved, fields, key);
      else window.localStorage.removeItem(key);
    }
    form.addEventListener("input", debounce(function () { dirty = true; store(); }, 300));
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () {
      submitting = true;
      try { window.localStorage.removeItem(key); } catch (error) { /* nothing kept */ }
    });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  function offerRestore(form, saved, fields, key) {
    var note = document.createElement("div");
    note.className = "message draft-note";
    note.setAttribute("role", "status");
    var when = new Date(saved.at);
    var text = document.createElement("span");
    text.textContent = "Text you typed here on " + when.toLocaleString() + " was not saved. ";
    var restore = document.createElement("button");
    restore.type = "button";
    restore.textContent = "Restore it";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "secondary";
    discard.textContent = "Discard it";
    note.appendChild(text);
    note.appendChild(restore);
    note.appendChild(document.createTextNode(" "));
    note.appendChild(discard);
    form.insertBefore(note, form.firstChild);
    restore.addEventListener("click", function () {
      fields.forEach(function (element) {
        if (typeof saved.values[element.name] === "string") {
          element.value = saved.values[element.name];
          element.dispatchEvent(new Event("input", { bubbles: true }));
        }
      });
      note.remove();
    });
    discard.addEventListener("click", function () {
      window.localStorage.removeItem(key);
      note.remove();
    });
  }

  // Logging out forgets the drafts kept in this browser (a shared machine keeps nobody's text).
  function forgetDraftsOnLogout(form) {
    form.addEventListener("submit", function () {
      try {
        Object.keys(window.localStorage).forEach(function (key) {
          if (key.indexOf("hindsight-draft:") === 0) window.localStorage.removeItem(key);
        });
      } catch (error) { /* storage disabled: nothing kept */ }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.logout").forEach(forgetDraftsOnLogout);
    document.querySelectorAll("form[data-draft-key]").forEach(setUpDraft);
    document.querySelectorAll("datalist[data-url]").forEach(setUpReleaseVersions);
    document.querySelectorAll(".site-header").forEach(setUpMenu);
    document.querySelectorAll("form[data-preview-url]").forEach(setUpPreview);
    document.querySelectorAll("form[data-similar-url]").forEach(setUpSimilar);
    var errors = document.getElementById("form-errors");
    if (errors) errors.focus();
  });
})();
