/**
 * @file The tutorial's mobile app (entry module named in plugin_package.json "mobile"):
 * the StringInt rows as cards, thumb-sized buttons.
 */

import { mountStringInts } from "./string-ints.js";

/**
 * Called by the device shell with the page's root element and the app context.
 * @param {HTMLElement} root
 * @param {{bus: any}} app
 */
export function mount(root, app) {
  return mountStringInts(root, app, "cards");
}
