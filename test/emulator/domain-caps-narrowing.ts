/**
 * libvirt's domain capabilities narrowed as mpvirt narrows them (src/emulator/domain-caps.ts,
 * its MPVIRT notes): what define would refuse is not offered. Both the golden test and the
 * side-by-side test compare mpvirt's output with libvirt's after this, and nothing else.
 */
export function narrowAsMpvirt(xml: string): string {
  let t = xml;
  const swap = (from: RegExp | string, to: string): void => { t = t.replace(from, to); };
  swap("<iothreads supported='yes'/>", "<iothreads supported='no'/>");
  // firmware: mpvirt reads no firmware descriptors and runs QEMU's own BIOS
  swap(/<enum name='firmware'>[\s\S]*?<\/enum>/, "<enum name='firmware'/>");
  swap(/<loader supported='yes'>[\s\S]*?<\/loader>/, "<loader supported='no'/>");
  swap(/<hostdev supported='yes'>[\s\S]*?<\/hostdev>/, "<hostdev supported='no'/>");
  swap(/<filesystem supported='yes'>[\s\S]*?<\/filesystem>/, "<filesystem supported='no'/>");
  swap(/<tpm supported='yes'>[\s\S]*?<\/tpm>/, "<tpm supported='no'/>");
  for (const f of ['vmcoreinfo', 'genid', 'backingStoreInput']) swap(`<${f} supported='yes'/>`, `<${f} supported='no'/>`);
  const inSection = (name: string, values: RegExp): void => {
    t = t.replace(new RegExp(`(<${name} supported='yes'>)([\\s\\S]*?)(</${name}>)`), (_m, a: string, b: string, c: string) => a + b.replace(values, '') + c);
  };
  inSection('disk', /\n\s*<value>(lun|usb)<\/value>/g);
  inSection('graphics', /\n\s*<value>(sdl|egl-headless|dbus)<\/value>/g);
  inSection('video', /\n\s*<value>vmvga<\/value>/g);
  inSection('rng', /\n\s*<value>(virtio-transitional|virtio-non-transitional|egd)<\/value>/g);
  inSection('channel', /\n\s*<value>pty<\/value>/g);
  return t;
}
