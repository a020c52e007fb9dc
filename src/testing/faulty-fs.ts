import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A small file system the test owns, mounted for the duration of a test (needs root). */
export interface TestMount {
  dir: string;
  /** Makes the kernel remount it read-only as after an I/O error (ext4 only). */
  failToReadOnly(): void;
  unmount(): void;
}

const run = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
};

/** Why mounts are not possible here, or undefined when they are. */
export function mountsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: cannot mount a test file system";
  const probe = mkdtempSync(join(tmpdir(), "switchyard-mount-probe-"));
  try {
    run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]);
    run(["umount", probe]);
    return undefined;
  } catch (error) {
    return `mount refused: ${(error as Error).message}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** A tmpfs of `mb` megabytes: a disk that fills up. */
export function mountTmpfs(mb: number): TestMount {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-tmpfs-"));
  run(["mount", "-t", "tmpfs", "-o", `size=${mb}m`, "tmpfs", dir]);
  return {
    dir,
    failToReadOnly() {
      throw new Error("tmpfs cannot fail to read-only; use mountExt4");
    },
    unmount() {
      Bun.spawnSync(["umount", "-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An ext4 image on a loop device, `errors=remount-ro`: a disk whose errors make it read-only. */
export function mountExt4(mb: number): TestMount & { remount(): void } {
  const base = mkdtempSync(join(tmpdir(), "switchyard-ext4-"));
  const image = join(base, "disk.img");
  const dir = join(base, "mnt");
  run(["mkdir", "-p", dir]);
  run(["truncate", "-s", `${mb}M`, image]);
  run(["mkfs.ext4", "-q", "-F", image]);
  const mount = () => run(["mount", "-o", "loop,errors=remount-ro", image, dir]);
  mount();
  return {
    dir,
    failToReadOnly() {
      const device = run(["findmnt", "-n", "-o", "SOURCE", dir]).split("/").pop()!;
      // The kernel's own emergency remount, as after a real I/O error (see ext4 sysfs).
      run(["sh", "-c", `echo 1 > /sys/fs/ext4/${device}/trigger_fs_error`]);
    },
    /** Unmounts, checks the file system as an operator would, and mounts it again. */
    remount() {
      run(["umount", dir]);
      Bun.spawnSync(["e2fsck", "-p", "-f", image], { stderr: "pipe" });
      mount();
    },
    unmount() {
      Bun.spawnSync(["umount", "-l", dir]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
