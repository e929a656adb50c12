// Clicking [n] in an answer brings passage n of the sources panel into view.
document.addEventListener("click", function (event) {
  const link = event.target.closest && event.target.closest("a.cite");
  if (!link) return;
  event.preventDefault();
  const target = document.getElementById("src-" + link.dataset.n);
  if (!target) return;
  target.scrollIntoView({ behavior: "smooth", block: "center" });
  target.classList.add("flash");
  setTimeout(function () { target.classList.remove("flash"); }, 1500);
});
