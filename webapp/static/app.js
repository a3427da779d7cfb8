// Linkit Customers web app: the little script htmx does not cover.
// Loaded from our own origin only (the Content-Security-Policy forbids
// inline scripts and eval).
(function () {
  "use strict";
  var PREVIEW_BYTES = 1 << 20; // the preview reads 20 rows: 1 MB is plenty

  document.addEventListener("htmx:configRequest", function (evt) {
    var fd = evt.detail.formData;
    if (!fd || typeof fd.getAll !== "function") return;
    var files = fd.getAll("file").filter(function (f) { return f instanceof File && f.name; });
    if (!files.length) return;
    // The server streams the file through to the API: options must come
    // first, the file last.
    fd.delete("file");
    files.forEach(function (f) {
      if (/\/preview$/.test(evt.detail.path) && f.size > PREVIEW_BYTES) {
        fd.append("file", f.slice(0, PREVIEW_BYTES), f.name);
      } else {
        fd.append("file", f, f.name);
      }
    });
  });

  // Drop a file on the drop zone: it becomes the file input's choice.
  function wireDropzone(root) {
    var zone = (root || document).querySelector ? (root || document).querySelector("#dropzone") : null;
    if (!zone || zone.dataset.wired) return;
    zone.dataset.wired = "1";
    var input = zone.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      input.files = e.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }
  document.addEventListener("DOMContentLoaded", function () { wireDropzone(document); });
})();
