// Startup probe (ARCHITECTURE.md §4): can this kernel hold ESP SAs (RFC 4303 via XFRM)? Picks `xfrm` if so, else `userspace`.
//
// The test SA is installed and deleted at once, in a private network namespace of a helper thread (gone with
// it), so the probe never touches the host's SAD. Without permission for that (no CAP_SYS_ADMIN) it falls back
// to the host namespace with reserved SPIs 1-3 (RFC 4303 §2.1) on loopback, which no peer can negotiate.
import { NativeAddonMissingError } from './native-addon.ts';
import { loadXfrmNative, type XfrmNative, type XfrmProbeReport } from './xfrm-native.ts';

export interface ProbeResult {
  backend: 'xfrm' | 'userspace';
  /** One line for the log, e.g. "kernel has no ESP (xfrm state add: Requested type not found, EPROTONOSUPPORT)". */
  reason: string;
  /** The probe's raw answers, for status views; absent when the addon could not be loaded. */
  report?: XfrmProbeReport;
}

export interface ProbeOptions {
  native?: Pick<XfrmNative, 'xfrmProbe' | 'errnoName'>;
  /** Probe this namespace instead of a private one (tests). */
  netnsPath?: string;
}

const ESP_STEP = 0; // cbc(aes)+hmac(sha256): every ESP-capable kernel has these

function kernelSays(native: Pick<XfrmNative, 'errnoName'>, rc: number, message: string): string {
  return `${message ? `${message}, ` : ''}${native.errnoName(rc)}`;
}

/** The decision for one probe report (pure; the tests feed it reports of kernels this machine is not). */
export function interpretProbe(report: XfrmProbeReport, native: Pick<XfrmNative, 'errnoName'>): ProbeResult {
  if (report.openRc !== 0) {
    const code = native.errnoName(report.openRc);
    const why = `${report.openWhat}: ${code}`;
    if (report.openWhat.startsWith('socket') && (code === 'EPROTONOSUPPORT' || code === 'EAFNOSUPPORT')) {
      return { backend: 'userspace', reason: `kernel has no XFRM netlink (${why})`, report };
    }
    if (code === 'EPERM' || code === 'EACCES') return { backend: 'userspace', reason: `no permission to configure XFRM (${why}); needs CAP_NET_ADMIN`, report };
    return { backend: 'userspace', reason: `cannot probe XFRM (${why})`, report };
  }
  const esp = report.steps[ESP_STEP];
  if (!esp) return { backend: 'userspace', reason: 'cannot probe XFRM (no probe result)', report };
  if (esp.rc !== 0) {
    const code = native.errnoName(esp.rc);
    const said = `xfrm state add: ${kernelSays(native, esp.rc, esp.message)}`;
    if (code === 'EPROTONOSUPPORT') return { backend: 'userspace', reason: `kernel has no ESP (${said})`, report };
    if (code === 'ENOSYS') return { backend: 'userspace', reason: `kernel ESP lacks ${esp.what} (${said})`, report };
    if (code === 'EPERM' || code === 'EACCES') return { backend: 'userspace', reason: `no permission to configure XFRM (${said}); needs CAP_NET_ADMIN`, report };
    return { backend: 'userspace', reason: `kernel refused a test ESP SA (${said})`, report };
  }
  const ok = report.steps.filter((s) => s.rc === 0).map((s) => s.what);
  const missing = report.steps.filter((s) => s.rc !== 0).map((s) => `${s.what}: ${kernelSays(native, s.rc, s.message)}`);
  return {
    backend: 'xfrm',
    reason: `kernel accepted test ESP SAs (${ok.join(', ')})${missing.length ? `; missing ${missing.join('; ')}` : ''}`,
    report,
  };
}

/** Which backend this machine's kernel supports, with the reason in one line. Never throws. */
export function probeDataplane(opts: ProbeOptions = {}): ProbeResult {
  let native: Pick<XfrmNative, 'xfrmProbe' | 'errnoName'>;
  try {
    native = opts.native ?? loadXfrmNative();
  } catch (e) {
    const why = e instanceof NativeAddonMissingError ? 'native addon not built' : (e as Error).message;
    return { backend: 'userspace', reason: `cannot probe XFRM: ${why}` };
  }
  let report = native.xfrmProbe(opts.netnsPath ?? null);
  if (!opts.netnsPath && report.openRc !== 0 && ['EPERM', 'EACCES', 'ENOSYS', 'EINVAL'].includes(native.errnoName(report.openRc))) {
    report = native.xfrmProbe('');
  }
  return interpretProbe(report, native);
}
