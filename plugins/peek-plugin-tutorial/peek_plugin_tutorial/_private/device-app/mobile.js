export function mount(root, app) { root.textContent = "tutorial"; }
