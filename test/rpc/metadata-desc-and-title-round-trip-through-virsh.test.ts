/**
 * Title, description and `<metadata>` elements through the REAL virsh
 * (`desc`, `metadata`, `list --title`) and python3-libvirt (setMetadata,
 * metadata), with libvirt 9.0's semantics: CURRENT/LIVE/CONFIG, libvirt's
 * namespace injection and output format (compared with what `virsh -c
 * test:///default` prints for the same commands), `metadata not found` for a
 * missing item, our own namespace validated exactly like define and never
 * changed under a running domain, and only the metadata-change event.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../driver/harness.js';
import { projectRoot } from '../domainxml/helpers.js';
import { fail, ok, RpcHarness, type VirshResult } from './harness.js';

const MPQ = 'http://mpvirt.org/schemas/domain/mpqemu/1.0';
const r = new RpcHarness();
beforeAll(() => r.start());
afterAll(() => r.cleanup());

const run = (...args: string[]): Promise<Partial<VirshResult>> => r.run(...args);
const runRo = async (...args: string[]): Promise<Partial<VirshResult>> => {
  const { code, stdout, stderr } = await r.virsh(args, { readOnly: true });
  return { code, stdout, stderr };
};
const define = async (name: string): Promise<void> => {
  const f = join(r.h.dir, `${name}.xml`);
  writeFileSync(f, r.h.xml(name));
  expect((await run('define', f)).code).toBe(0);
};
const configFile = (name: string): string => readFileSync(join(r.h.configDir, `${name}.xml`), 'utf8');

const background = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => r.background(args);
const listeners = (): number => r.driver.events.listenerCount('metadata-change');

describe('virsh desc and list --title', () => {
  it('reads, sets and removes description and title of a shut-off domain (the persistent definition)', async () => {
    await define('md1');
    expect(await run('desc', 'md1')).toEqual(ok('No description for domain: md1\n'));
    expect(await run('desc', 'md1', '--title')).toEqual(ok('No title for domain: md1\n'));
    expect(await run('desc', 'md1', '--new-desc', 'hello <world> & "friends"')).toEqual(ok('Domain description updated successfully\n'));
    expect(await run('desc', 'md1')).toEqual(ok('hello <world> & "friends"\n'));
    expect(await run('desc', 'md1', '--config')).toEqual(ok('hello <world> & "friends"\n'));
    expect(await run('desc', 'md1', '--title', '--new-desc', 'My Title')).toEqual(ok('Domain title updated successfully\n'));
    expect(await run('desc', 'md1', '--title')).toEqual(ok('My Title\n'));
    expect(await run('list', '--all', '--title')).toEqual(ok(
      ' Id   Name   State      Title\n' +
      '----------------------------------\n' +
      ' -    md1    shut off   My Title\n\n',
    ));
    // saved in the persistent definition, escaped as libvirt escapes text
    expect(configFile('md1')).toContain("  <title>My Title</title>\n  <description>hello &lt;world&gt; &amp; &quot;friends&quot;</description>\n");
    // read-only connections read, and only read
    expect(await runRo('desc', 'md1', '--title')).toEqual(ok('My Title\n'));
    expect(await runRo('desc', 'md1', '--new-desc', 'nope')).toEqual(fail(
      'error: Failed to set new domain description\nerror: operation forbidden: read only access prevents virDomainSetMetadata\n',
    ));
    // an empty text removes the element
    expect(await run('desc', 'md1', '--title', '--new-desc', '')).toEqual(ok('Domain title updated successfully\n'));
    expect(await run('desc', 'md1', '--title')).toEqual(ok('No title for domain: md1\n'));
    expect(configFile('md1')).not.toContain('<title>');
    expect(await run('list', '--all', '--title')).toEqual(ok(
      ' Id   Name   State      Title\n' +
      '-------------------------------\n' +
      ' -    md1    shut off   \n\n',
    ));
  });

  it('refuses what libvirt refuses, with its texts', async () => {
    expect(await run('desc', 'md1', '--live', '--new-desc', 'x')).toEqual(fail(
      'error: Failed to set new domain description\nerror: Requested operation is not valid: domain is not running\n',
    ));
    // checked by libvirt's client library before anything is sent
    expect(await run('desc', 'md1', '--title', '--new-desc', 'two\nlines')).toEqual(fail(
      "error: Failed to set new domain title\nerror: metadata title can't contain newlines\n",
    ));
    expect(await run('desc', 'nosuch')).toEqual(fail("error: failed to get domain 'nosuch'\n"));
    expect(await run('desc', 'md1')).toEqual(ok('hello <world> & "friends"\n'));
  });
});

describe('virsh metadata', () => {
  it('sets, reads and removes a foreign element exactly as libvirt does (prefix, namespace, format)', async () => {
    const uri = 'http://example.com/x';
    expect(await run('metadata', 'md1', uri)).toEqual(fail('error: metadata not found: Requested metadata element is not present\n'));
    expect(await run('metadata', 'md1', uri, '--key', 'ex', '--set', '<foo a="1"><bar>t</bar><baz/></foo>')).toEqual(ok('Metadata modified\n\n'));
    expect(await run('metadata', 'md1', uri)).toEqual(ok('<foo a="1">\n  <bar>t</bar>\n  <baz/>\n</foo>\n\n'));
    // text or whitespace in an element turns libxml2's indentation off for it (as with test:///default)
    const mixed = '<foo>  <bar>a<b>c</b></bar> <!-- c --> <q xmlns="http://other"><r/></q>  </foo>';
    expect(await run('metadata', 'md1', 'http://e/x', '--key', 'ex', '--set', mixed)).toEqual(ok('Metadata modified\n\n'));
    expect(await run('metadata', 'md1', 'http://e/x')).toEqual(ok(`${mixed}\n\n`));
    // an element already in the namespace keeps its prefix; the key is declared anyway
    expect(await run('metadata', 'md1', 'http://e/y', '--key', 'y', '--set', '<a:b xmlns:a="http://e/y"/>')).toEqual(ok('Metadata modified\n\n'));
    expect(await run('metadata', 'md1', 'http://e/y')).toEqual(ok('<b xmlns:y="http://e/y"/>\n\n'));
    // (not `dumpxml --xpath`: virsh re-parses and re-indents the node itself)
    const xml = (await run('dumpxml', 'md1')).stdout!;
    expect(xml.slice(xml.indexOf('  <metadata>'), xml.indexOf('</metadata>') + 12)).toBe(
      '  <metadata>\n' +
      `    <mpq:remote xmlns:mpq="${MPQ}">\n` +
      '      <mpq:process rid="8">\n' +
      '        <mpq:device alias="ua-lsi0"/>\n' +
      '      </mpq:process>\n' +
      '    </mpq:remote>\n' +
      '    <ex:foo xmlns:ex="http://example.com/x" a="1">\n' +
      '      <ex:bar>t</ex:bar>\n' +
      '      <ex:baz/>\n' +
      '    </ex:foo>\n' +
      '    <ex:foo xmlns:ex="http://e/x">  <ex:bar>a<ex:b>c</ex:b></ex:bar> <!-- c --> <q xmlns="http://other"><r/></q>  </ex:foo>\n' +
      '    <a:b xmlns:a="http://e/y" xmlns:y="http://e/y"/>\n' +
      '  </metadata>\n',
    );
    // a second --set replaces the element of that namespace
    expect(await run('metadata', 'md1', uri, '--key', 'ex2', '--set', '<other/>')).toEqual(ok('Metadata modified\n\n'));
    expect(await run('metadata', 'md1', uri)).toEqual(ok('<other/>\n\n'));
    expect(configFile('md1')).toContain('<ex2:other xmlns:ex2="http://example.com/x"/>');
    for (const u of [uri, 'http://e/x', 'http://e/y']) expect(await run('metadata', 'md1', u, '--remove')).toEqual(ok('Metadata removed\n\n'));
    // removing what is not there succeeds, as in libvirt
    expect(await run('metadata', 'md1', uri, '--remove')).toEqual(ok('Metadata removed\n\n'));
    expect(await run('metadata', 'md1', uri)).toEqual(fail('error: metadata not found: Requested metadata element is not present\n'));
    expect(configFile('md1')).not.toContain('example.com');
  });

  it('refuses bad keys, malformed XML and --set without --key, changing nothing', async () => {
    const before = configFile('md1');
    expect(await run('metadata', 'md1', 'http://e/z', '--key', '1bad', '--set', '<foo/>')).toEqual(fail(
      'error: internal error: failed to validate prefix for a new XML namespace\n',
    ));
    const bad = await run('metadata', 'md1', 'http://e/z', '--key', 'ok', '--set', '<foo');
    expect([bad.code, bad.stdout]).toEqual([1, '\n']);
    expect(bad.stderr).toMatch(/^error: XML error: malformed XML at line 1, column \d+: .+\n$/);
    expect(await run('metadata', 'md1', 'http://e/z', '--set', '<foo/>')).toEqual(fail('error: namespace key is required when modifying metadata\n'));
    expect(configFile('md1')).toBe(before);
  });

  it('our own namespace: read back, changed only through the rules of define, refused whole when invalid', async () => {
    expect(await run('metadata', 'md1', MPQ)).toEqual(ok('<remote>\n  <process rid="8">\n    <device alias="ua-lsi0"/>\n  </process>\n</remote>\n\n'));
    const before = configFile('md1');
    const set = (xml: string): Promise<Partial<VirshResult>> => run('metadata', 'md1', MPQ, '--key', 'mpq', '--set', xml);
    expect(await set('<remote><process rid="8"><device alias="ua-nope"/></process></remote>')).toEqual(fail(
      "error: XML error: <mpq:device alias='ua-nope'> in remote process '8' names no device of this domain\n",
    ));
    expect(await set('<remote><bogus/></remote>')).toEqual(fail('error: XML error: unknown element <mpq:bogus> in <mpq:remote>\n'));
    expect(await set('<remote><process rid="8"><device alias="ua-lsi0"/><on-crash action="restart"/></process></remote>')).toEqual(fail(
      "error: unsupported configuration: on-crash action 'restart' of remote process '8' needs <features><acpi/></features>: the guest releases the device of a dead remote through ACPI hot-plug\n",
    ));
    expect(await run('metadata', 'md1', MPQ, '--key', 'mpq', '--set', '<process rid="8"/>')).toEqual(fail(
      'error: XML error: unknown element <mpq:process> in the mpvirt namespace\n',
    ));
    expect(configFile('md1')).toBe(before);
    // a valid change is saved like a define
    expect(await set('<remote><process rid="8"><device alias="ua-lsi0"/><on-crash action="preserve"/></process></remote>')).toEqual(ok('Metadata modified\n\n'));
    expect(configFile('md1')).toContain('<mpq:on-crash action="preserve"/>');
    // removing our element is a define without it: the isolation policy places the controller again
    expect(await run('metadata', 'md1', MPQ, '--remove')).toEqual(ok('Metadata removed\n\n'));
    expect((await run('metadata', 'md1', MPQ)).stdout).toContain('<device alias="ua-lsi0"/>');
    expect(await set('<remote><process rid="8"><device alias="ua-lsi0"/></process></remote>')).toEqual(ok('Metadata modified\n\n'));
  });
});

describe('a running domain: CURRENT is live, CONFIG is the next start, our namespace only for the next start', () => {
  it('keeps live and persistent texts apart, and the persistent one wins after a stop', async () => {
    expect((await run('start', 'md1')).code).toBe(0);
    r.h.track(r.driver.lookupByName('md1'));
    expect(await run('desc', 'md1', '--new-desc', 'live one')).toEqual(ok('Domain description updated successfully\n'));
    expect(await run('desc', 'md1', '--title', '--config', '--new-desc', 'next boot')).toEqual(ok('Domain title updated successfully\n'));
    expect(await run('desc', 'md1')).toEqual(ok('live one\n'));
    expect(await run('desc', 'md1', '--config')).toEqual(ok('hello <world> & "friends"\n'));
    expect(await run('desc', 'md1', '--title')).toEqual(ok('No title for domain: md1\n'));
    expect(await run('desc', 'md1', '--title', '--config')).toEqual(ok('next boot\n'));
    expect(await run('desc', 'md1', '--live', '--config', '--new-desc', 'both')).toEqual(ok('Domain description updated successfully\n'));
    expect((await run('dumpxml', 'md1')).stdout).toContain('<description>both</description>');
    expect((await run('dumpxml', 'md1', '--inactive')).stdout).toContain('<title>next boot</title>\n  <description>both</description>');
    expect(configFile('md1')).toContain('<title>next boot</title>');
  });

  it('refuses a live change of our namespace and takes it for the next start with --config', async () => {
    const xml = '<remote><process rid="9"><device alias="ua-lsi0"/></process></remote>';
    const refused = fail(
      'error: Requested operation is not valid: the remote process placement of a running domain cannot change; use --config to change it for the next start\n',
    );
    expect(await run('metadata', 'md1', MPQ, '--key', 'mpq', '--set', xml)).toEqual(refused);
    expect(await run('metadata', 'md1', MPQ, '--key', 'mpq', '--live', '--config', '--set', xml)).toEqual(refused);
    expect(await run('metadata', 'md1', MPQ, '--live', '--remove')).toEqual(refused);
    expect(await run('metadata', 'md1', MPQ, '--key', 'mpq', '--config', '--set', xml)).toEqual(ok('Metadata modified\n\n'));
    // live: still rid 8, with what the driver knows of the running process
    const live = await run('metadata', 'md1', MPQ);
    expect(live.stdout).toMatch(/^<remote>\n {2}<process rid="8" pid="\d+" state="running" monitor="[^"]+" uid="\d+" gid="\d+" jail="root,net,ipc,uts,pid">\n {4}<device alias="ua-lsi0"\/>\n {2}<\/process>\n<\/remote>\n\n$/);
    expect(await run('metadata', 'md1', MPQ, '--config')).toEqual(ok('<remote>\n  <process rid="9">\n    <device alias="ua-lsi0"/>\n  </process>\n</remote>\n\n'));
    // a foreign element may change live
    expect(await run('metadata', 'md1', 'http://e/live', '--key', 'l', '--live', '--set', '<x/>')).toEqual(ok('Metadata modified\n\n'));
    expect(await run('metadata', 'md1', 'http://e/live')).toEqual(ok('<x/>\n\n'));
    expect(await run('metadata', 'md1', 'http://e/live', '--config')).toEqual(fail('error: metadata not found: Requested metadata element is not present\n'));
    expect(await run('destroy', 'md1')).toEqual(ok("Domain 'md1' destroyed\n\n"));
    expect(await run('metadata', 'md1', MPQ)).toEqual(ok('<remote>\n  <process rid="9">\n    <device alias="ua-lsi0"/>\n  </process>\n</remote>\n\n'));
    expect(await run('desc', 'md1', '--title')).toEqual(ok('next boot\n'));
    expect(await run('metadata', 'md1', 'http://e/live')).toEqual(fail('error: metadata not found: Requested metadata element is not present\n'));
  });

  it('a transient domain has no persistent definition to change', async () => {
    const f = join(r.h.dir, 'md2.xml');
    writeFileSync(f, r.h.xml('md2'));
    expect((await run('create', f)).code).toBe(0);
    r.h.track(r.driver.lookupByName('md2'));
    // virsh reads the persistent description first, and that read already fails
    expect(await run('desc', 'md2', '--config', '--new-desc', 'x')).toEqual(fail(
      'error: Requested operation is not valid: transient domains do not have any persistent config\n',
    ));
    expect(await run('desc', 'md2', '--new-desc', 'transient')).toEqual(ok('Domain description updated successfully\n'));
    expect(await run('desc', 'md2')).toEqual(ok('transient\n'));
    expect(await run('destroy', 'md2')).toEqual(ok("Domain 'md2' destroyed\n\n"));
  });
});

describe('events', () => {
  it('each change emits one metadata-change event and nothing else (no lifecycle event)', async () => {
    const base = listeners();
    const ev = background(['event', '--all', '--loop', '--timeout', '4']);
    expect(await waitFor(() => listeners() > base, 5000)).toBe(true);
    expect((await run('desc', 'md1', '--new-desc', 'e1')).code).toBe(0);
    expect((await run('desc', 'md1', '--title', '--new-desc', 'e2')).code).toBe(0);
    expect((await run('metadata', 'md1', 'http://e/ev', '--key', 'ev', '--set', '<e/>')).code).toBe(0);
    expect((await run('metadata', 'md1', 'http://e/ev', '--remove')).code).toBe(0);
    expect((await run('metadata', 'md1', MPQ, '--key', 'mpq', '--set', '<remote><nope/></remote>')).code).toBe(1);
    expect(await ev).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        "event 'metadata-change' for domain 'md1': type description, uri <null>",
        "event 'metadata-change' for domain 'md1': type title, uri <null>",
        "event 'metadata-change' for domain 'md1': type element, uri http://e/ev",
        "event 'metadata-change' for domain 'md1': type element, uri http://e/ev",
        'event loop timed out',
        'events received: 4',
        '',
        '',
      ].join('\n'),
    });
  });
});

describe('python3-libvirt', () => {
  it('setMetadata/metadata with typed errors and METADATA_CHANGE callbacks', async () => {
    await define('mdpy');
    const res = await new Promise<{ lines: Array<Record<string, unknown>>; stderr: string; code: number }>((resolve) => {
      execFile('/usr/bin/python3', [join(projectRoot, 'test/rpc/python/metadata_client.py'), r.uri(), 'mdpy'], { timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({
          lines: stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
          stderr,
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
        }));
    });
    const step = (name: string): Record<string, unknown> => res.lines.find((l) => l.step === name) ?? {};
    expect(res.code, res.stderr).toBe(0);
    expect(step('texts')).toEqual({ step: 'texts', desc: 'from python', title: 'py title' });
    expect(step('element')).toEqual({ step: 'element', get: '<app>\n  <v>1</v>\n</app>', in_xml: true });
    const notFound = { code: 80, domain: 20, message: 'metadata not found: Requested metadata element is not present' };
    expect(step('missing')).toEqual({ step: 'missing', ...notFound });
    expect(step('removed')).toEqual({ step: 'removed', ...notFound });
    expect(step('bad-placement')).toEqual({
      step: 'bad-placement', code: 27, domain: 20,
      message: "XML error: <mpq:device alias='ua-none'> in remote process 'x' names no device of this domain",
    });
    expect(step('unchanged')).toEqual({ step: 'unchanged', same: true });
    expect(step('title-newline')).toMatchObject({ code: 8, message: "metadata title can't contain newlines" });
    expect(step('live-while-off')).toEqual({ step: 'live-while-off', code: 55, domain: 20, message: 'Requested operation is not valid: domain is not running' });
    expect(step('events').events).toEqual([
      ['mdpy', 0, null],
      ['mdpy', 1, null],
      ['mdpy', 2, 'http://example.org/app/1'],
      ['mdpy', 2, 'http://example.org/app/1'],
    ]);
    expect(step('done')).toEqual({ step: 'done' });
  });

  it('logged no error', () => {
    expect(r.log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
