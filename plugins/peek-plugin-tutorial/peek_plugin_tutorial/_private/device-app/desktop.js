/**
 * @file The tutorial's desktop app (entry module named in plugin_package.json "desktop"):
 * the StringInt rows as a table.
 */

import { mountStringInts } from "./string-ints.js";

/**
 * Called by the device shell with the page's root element and the app context.
 * @param {HTMLElement} root
 * @param {{bus: any}} app
 */
export function mount(root, app) {
  return mountStringInts(root, app, "table");
}
