// The portal's few behaviours, as progressive enhancement: every page works without them.
// No inline handlers anywhere: the Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var status = button.closest("[role=region], .card, body").querySelector("[data-copy-status]");
    var text = source.value !== undefined ? source.value : source.textContent;
    copyText(text).then(function () {
      button.textContent = "Copied";
      button.classList.add("copied");
      if (status) { status.textContent = "Copied to the clipboard."; }
      window.setTimeout(function () { button.textContent = "Copy"; button.classList.remove("copied"); }, 2000);
    }, function () {
      source.select && source.select();
      if (status) { status.textContent = "Press Ctrl+C (⌘C) to copy the selected secret."; }
    });
  });

  // After htmx swaps in a panel (a confirmation, a new key), move focus to it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var focus = target && target.querySelector("[data-focus]");
    if (focus) { focus.focus(); }
  });

  // The playground: prepare the request (session + CSRF; no API key here), then stream its MP3
  // into the audio element, which plays as bytes arrive; show time to first audio, the text
  // preview and the same request as code. Without script the form posts to speak/ (whole file).
  function renderPreview(result, preview) {
    var list = result.querySelector("[data-playground-preview]");
    var meta = result.querySelector("[data-playground-preview-meta]");
    list.textContent = "";
    preview.segments.forEach(function (segment) {
      var item = document.createElement("li");
      item.textContent = segment.text;
      if (segment.pause_after_ms) {
        var pause = document.createElement("span");
        pause.className = "muted";
        pause.textContent = " (pause " + segment.pause_after_ms + " ms)";
        item.appendChild(pause);
      }
      list.appendChild(item);
    });
    var words = [preview.characters + " characters billed", "voice " + preview.voice,
                 "engine " + preview.engine];
    meta.textContent = words.join(" · ") +
      (preview.warnings.length ? ". Warnings: " + preview.warnings.join("; ") : "");
    result.hidden = false;
  }

  function renderSnippets(box, snippets) {
    Object.keys(snippets).forEach(function (name) {
      var code = box.querySelector("#snippet-" + name);
      if (code) { code.textContent = snippets[name]; }
    });
    box.hidden = false;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-playground]");
    if (!form) { return; }
    event.preventDefault();
    var started = performance.now();
    var status = form.querySelector("[data-playground-status]");
    var audio = form.querySelector("[data-playground-audio]");
    var button = form.querySelector("button[type=submit]");
    var ttfaLine = form.querySelector("[data-playground-ttfa-line]");
    var ttfa = form.querySelector("[data-playground-ttfa]");
    status.textContent = "Synthesizing…";
    ttfaLine.hidden = true;
    button.disabled = true;
    audio.pause();
    fetch(form.getAttribute("data-stream-action"), {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: {"X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
                "Accept": "application/json"},
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || !body.stream_url) {
          status.textContent = (body.error && body.error.message) || "The synthesis failed.";
          return;
        }
        renderPreview(document.querySelector("[data-playground-result]"), body.preview);
        renderSnippets(document.querySelector("[data-playground-snippets]"), body.snippets);
        audio.onplaying = function () {
          audio.onplaying = null;
          ttfa.textContent = Math.round(performance.now() - started) + " ms";
          ttfaLine.hidden = false;
          status.textContent = "Playing as it streams.";
        };
        audio.onended = function () { status.textContent = "Done."; };
        audio.onerror = function () { status.textContent = "The synthesis failed."; };
        audio.hidden = false;
        audio.src = body.stream_url;
        audio.play().catch(function () {
          status.textContent = "Ready: press play.";  // autoplay refused: the controls remain
        });
      });
    }).catch(function () {
      status.textContent = "The synthesis failed: check your connection and try again.";
    }).finally(function () { button.disabled = false; });
  });

  // Drag-and-drop onto a file input's drop zone.
  function initDropzones(root) {
    root.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      var input = zone.querySelector("input[type=file]");
      var label = zone.querySelector("[data-dropzone-name]");
      function show() { if (label && input.files.length) { label.textContent = input.files[0].name; } }
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
      });
      ["dragleave", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
      });
      input.addEventListener("change", show);
    });
  }

  // A page the upload's request ended on (the voice after the redirect, or the form with its
  // errors) takes the place of this one, as a plain submit would have loaded it.
  function showPage(doc, url) {
    if (url && url !== window.location.href) { window.history.pushState(null, "", url); }
    document.title = doc.title;
    var body = document.importNode(doc.body, true);
    document.documentElement.replaceChild(body, document.body);
    initDropzones(document);
    if (window.htmx) { window.htmx.process(document.body); }
    var heading = document.querySelector("main h1, h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    window.scrollTo(0, 0);
  }

  // The clone form: upload with a progress bar (XMLHttpRequest reports the bytes sent), then
  // follow the redirect. Without JavaScript the form posts as usual.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-upload-progress]");
    if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
    event.preventDefault();
    var wrap = form.querySelector("[data-upload-bar]");
    var bar = wrap.querySelector("progress");
    var status = wrap.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
    var request = new XMLHttpRequest();
    function failed(text) {
      status.textContent = text;
      button.disabled = false;
    }
    request.open("POST", form.action || window.location.href);
    request.responseType = "document";
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var percent = Math.round((e.loaded / e.total) * 100);
      bar.value = percent;
      bar.textContent = percent + " %";
    });
    request.upload.addEventListener("load", function () {
      bar.value = 100;
      bar.textContent = "100 %";
      status.textContent = "Uploaded; checking the file…";
    });
    request.addEventListener("load", function () {
      var doc = request.response;
      if (doc && doc.body && doc.title) {
        showPage(doc, request.responseURL);
      } else {
        failed("The upload failed (" + request.status + "). Try again.");
      }
    });
    request.addEventListener("error", function () {
      failed("The upload failed: check your connection and try again.");
    });
    bar.value = 0;
    bar.textContent = "0 %";
    status.textContent = "";
    wrap.hidden = false;
    button.disabled = true;
    request.send(new FormData(form));
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    initDropzones(document);
  });
})();
