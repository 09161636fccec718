/**
 * Linux input keycodes (virsh send-key's default codeset, `KEY_A` …) to QEMU's "qnum" numbers
 * (XT set 1 scancodes, 0x80 | code for the 0xe0-prefixed ones), what QEMU's send-key takes. For
 * the main block of the keyboard the two are the same; the rest is listed, as keycodemapdb's
 * table (the one libvirt and QEMU share) has them.
 */
const EXTENDED: ReadonlyMap<number, number> = new Map([
  [86, 0x56], [87, 0x57], [88, 0x58], // KEY_102ND, F11, F12
  [96, 0x9c], [97, 0x9d], [98, 0xb5], [99, 0x54], [100, 0xb8], // KPENTER, RIGHTCTRL, KPSLASH, SYSRQ, RIGHTALT
  [102, 0xc7], [103, 0xc8], [104, 0xc9], [105, 0xcb], [106, 0xcd], [107, 0xcf], [108, 0xd0], [109, 0xd1], [110, 0xd2], [111, 0xd3],
  [113, 0xa0], [114, 0xae], [115, 0xb0], [116, 0xde], [117, 0x59], [119, 0xc6], // MUTE, VOLUMEDOWN, VOLUMEUP, POWER, KPEQUAL, PAUSE
  [125, 0xdb], [126, 0xdc], [127, 0xdd], [142, 0xdf], [143, 0xe3], // LEFTMETA, RIGHTMETA, COMPOSE, SLEEP, WAKEUP
  [183, 0x5d], [184, 0x5e], [185, 0x5f], [186, 0x55], [187, 0x83], [188, 0xf7], // F13 … F18
]);

/** undefined: no qnum code (libvirt then refuses the key). */
export function linuxToQnum(code: number): number | undefined {
  if (code >= 1 && code <= 83) return code;
  return EXTENDED.get(code);
}
