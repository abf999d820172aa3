// "Show all code" opens or closes every folded code cell of the page.
function gbToggleCode(button) {
  const folds = document.querySelectorAll("details.gb-code");
  const open = button.dataset.open !== "true";
  folds.forEach((fold) => { fold.open = open; });
  button.dataset.open = String(open);
  button.textContent = open ? "Hide all code" : "Show all code";
}
