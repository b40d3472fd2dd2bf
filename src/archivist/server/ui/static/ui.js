// archivist web UI: the only script (CSP script-src 'self'); pages work without it.
// Copy buttons: <button class="copy" data-copy="text">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  event.preventDefault();
  const text = button.getAttribute("data-copy") || "";
  navigator.clipboard.writeText(text).then(() => {
    const label = button.textContent;
    button.textContent = "copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  });
});
// Forms that change something ask first: <form data-confirm="Remove alias production?">.
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
// A lineage graph opens scrolled to the version it is about.
document.addEventListener("DOMContentLoaded", () => {
  const focus = document.querySelector(".graph #focus");
  if (focus) focus.scrollIntoView({ block: "center", inline: "center" });
});
