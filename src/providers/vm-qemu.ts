import { accessSync, constants } from 'node:fs';

/** How a VM is accelerated: KVM on real hosts, TCG (software emulation) where there is no (nested) virtualisation. */
export type VmAccel = 'kvm' | 'tcg';

/** What {@link qemuArguments} builds a command line from. Paths only: no secret is ever an argument. */
export interface QemuMachine {
  runnerName: string;
  accel: VmAccel;
  cpus: number;
  memoryMb: number;
  kernel: string;
  initrd: string;
  overlay: string;
  qmpSocket: string;
  consoleLog: string;
  pidFile: string;
  /** The 0600 file QEMU reads into fw_cfg at start-up (its path, never its content). */
  jitConfigFile: string;
  /** PID 1 of the guest's root (the guest agent). */
  init: string;
  /** The overlay is larger than the base disk: the initrd grows the root filesystem to fill it. */
  growRoot: boolean;
  /** The guest's address/prefix, gateway and DNS on QEMU's user-mode network. */
  network: { guestAddress: string; gateway: string; dns: string; subnet: string };
}

/** The fw_cfg item the initrd reads the JIT config from. */
export const JIT_CONFIG_FW_CFG = 'opt/jitpool/jitconfig';

/**
 * The QEMU command line of one runner VM: q35, a direct kernel boot of the decompressed kernel
 * (no firmware menu, no bootloader), the overlay as a virtio disk, a virtio NIC on user-mode NAT,
 * the serial console into a file, QMP on a unix socket, and `-no-reboot` so a guest that powers
 * off or panics ends the QEMU process. `-name guest=…,process=…` puts the runner's name in the
 * process list, so a VM is recognisable in `ps` even without jitpool's records.
 */
export function qemuArguments(machine: QemuMachine): string[] {
  const cmdline = [
    'console=ttyS0',
    'quiet',
    'loglevel=3',
    // A kernel panic reboots at once, and -no-reboot turns that into QEMU exiting: a broken boot never hangs.
    'panic=-1',
    'random.trust_cpu=on',
    `jitpool.hostname=${machine.runnerName}`,
    `jitpool.init=${machine.init}`,
    `jitpool.ip=${machine.network.guestAddress}`,
    `jitpool.gw=${machine.network.gateway}`,
    `jitpool.dns=${machine.network.dns}`,
    ...(machine.growRoot ? ['jitpool.resize=1'] : []),
  ].join(' ');
  return [
    '-name', `guest=${opt(machine.runnerName)},process=${opt(machine.runnerName)}`,
    '-machine', `q35,accel=${machine.accel}`,
    '-cpu', machine.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(machine.cpus),
    '-m', String(machine.memoryMb),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', machine.kernel,
    '-initrd', machine.initrd,
    '-append', cmdline,
    '-drive', `file=${opt(machine.overlay)},if=none,id=disk0,format=qcow2,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=disk0',
    '-netdev', `user,id=net0,net=${machine.network.subnet},host=${machine.network.gateway},dns=${machine.network.dns}`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-rng-pci',
    '-chardev', `file,id=console0,path=${opt(machine.consoleLog)}`,
    '-serial', 'chardev:console0',
    '-chardev', `socket,id=qmp0,path=${opt(machine.qmpSocket)},server=on,wait=off`,
    '-mon', 'chardev=qmp0,mode=control',
    '-fw_cfg', `name=${JIT_CONFIG_FW_CFG},file=${opt(machine.jitConfigFile)}`,
    '-pidfile', machine.pidFile,
  ];
}

/** QEMU's option syntax doubles a comma inside a value. */
function opt(value: string): string {
  return value.replace(/,/g, ',,');
}

/** `auto`: KVM when /dev/kvm can be opened for reading and writing, else TCG. */
export function resolveAccel(accel: 'kvm' | 'tcg' | 'auto'): VmAccel {
  if (accel !== 'auto') return accel;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/** QEMU's user-mode network as jitpool configures it: the defaults QEMU documents (guest .15, host .2, DNS .3). */
export const USER_NETWORK = { subnet: '10.0.2.0/24', guestAddress: '10.0.2.15/24', gateway: '10.0.2.2', dns: '10.0.2.3' } as const;
