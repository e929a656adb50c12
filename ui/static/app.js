// Clicking [n] in an answer brings passage n of that answer into view in the sources panel
// (opening its group if it is folded); "Copy with references" puts the answer and its
// references on the clipboard.
document.addEventListener("click", function (event) {
  const link = event.target.closest && event.target.closest("a.cite");
  if (link) {
    event.preventDefault();
    const target = document.getElementById((link.getAttribute("href") || "").slice(1));
    if (!target) return;
    for (let el = target.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
    }
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    target.classList.add("flash");
    setTimeout(function () { target.classList.remove("flash"); }, 1600);
    return;
  }
  const button = event.target.closest && event.target.closest("button.copy-ref");
  if (button) {
    event.preventDefault();
    const holder = button.parentElement && button.parentElement.querySelector(".copy-text");
    const text = holder ? holder.textContent : "";
    const done = function () {
      button.classList.add("copied");
      setTimeout(function () { button.classList.remove("copied"); }, 1500);
    };
    const fallback = function () {  // pages served over plain http on another host have no clipboard API
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } finally { area.remove(); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }
});
