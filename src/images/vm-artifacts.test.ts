import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { vmSkipReason } from '../providers/vm-test-helpers.ts';
import { VM_TEST_IMAGE_ROOT, ensureVmTestImage } from '../providers/vm-test-image.ts';
import { buildVmArtifacts } from './vm-artifacts.ts';

const skip = vmSkipReason();
const scratch = mkdtempSync(join(tmpdir(), 'jp-vm-artifacts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('buildVmArtifacts: an ext4 disk holding the root dir, an ELF vmlinux, an initrd with the virtio modules after their dependencies', { skip, timeout: 600_000 }, async () => {
  // The test image's kernel cache holds Debian's package already (downloaded once with apt-get download).
  await ensureVmTestImage();
  const rootfs = join(scratch, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
  copyFileSync('/usr/bin/busybox', join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  const out = join(scratch, 'image');
  const built = await buildVmArtifacts(rootfs, out, { kernelCacheDir: join(VM_TEST_IMAGE_ROOT, 'kernel'), freeSpaceMb: 16 });

  const disk = readFileSync(built.disk).subarray(0, 2048);
  assert.equal(disk.readUInt16LE(1024 + 56), 0xef53, 'ext4 superblock magic');
  assert.match(execFileSync('debugfs', ['-R', 'ls -l /bin', built.disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), /busybox/);
  assert.equal(readFileSync(built.kernel).readUInt32BE(0), 0x7f454c46, 'vmlinux is an ELF image');

  const unpacked = join(scratch, 'initrd');
  mkdirSync(unpacked);
  execFileSync('sh', ['-c', 'gzip -dc "$1" | cpio -id --quiet', 'sh', built.initrd], { cwd: unpacked });
  const paths = readFileSync(join(unpacked, 'modules.order'), 'utf8').trim().split('\n');
  const order = paths.map((path) => path.split('/').at(-1)!.replace(/\.ko$/, '').replace(/-/g, '_'));
  for (const module of ['virtio_pci', 'virtio_blk', 'virtio_net', 'qemu_fw_cfg']) assert.ok(order.includes(module), `${module} in ${order.join(' ')}`);
  // Every module's own `depends=` (its .modinfo) names modules loaded before it.
  for (const [index, path] of paths.entries()) {
    const data = readFileSync(join(unpacked, 'lib/modules', path));
    const at = data.indexOf('\0depends=');
    const depends = at < 0 ? [] : data.subarray(at + 9, data.indexOf(0, at + 9)).toString().split(',').filter(Boolean);
    for (const dep of depends) assert.ok(order.indexOf(dep.replace(/-/g, '_')) >= 0 && order.indexOf(dep.replace(/-/g, '_')) < index, `${dep} loads before ${order[index]}: ${order.join(' ')}`);
  }
  assert.ok(readFileSync(join(unpacked, 'init'), 'utf8').includes('opt/jitpool/jitconfig'));
  assert.match(execFileSync('file', [join(unpacked, 'sbin/resize2fs')], { encoding: 'utf8' }).toString(), /ELF/);
});

test('buildVmArtifacts refuses a directory that is no root filesystem', { skip }, async () => {
  await assert.rejects(buildVmArtifacts(join(scratch, 'nothing'), join(scratch, 'out')), { code: 'JP_INPUT_INVALID' });
});
