// The constants /sw.js prepends to sw-body.js (see peek_platform.web.device_shell), for the
// type check only.
declare const PEEK_SITE: string;
declare const PEEK_VERSION: string;
declare const PEEK_PRECACHE: string[];
