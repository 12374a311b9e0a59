// A network device's ESP offload features (SIOCETHTOOL ETH_SS_FEATURES + ETHTOOL_GFEATURES) for the XFRM status view.
import { loadXfrmNative, xfrmError, type EthtoolEsp, type EthtoolFeature, type XfrmHandle, type XfrmNative } from './xfrm-native.ts';

export interface EspOffloadCapability {
  ifname: string;
  ifindex: number;
  espHwOffload: EthtoolFeature; // NETIF_F_HW_ESP: ESP crypto offload (XFRM "crypto" mode)
  espTxCsumHwOffload: EthtoolFeature; // NETIF_F_HW_ESP_TX_CSUM
  /** esp-hw-offload is on: XFRM may offload ESP crypto to this device. */
  capable: boolean;
  /** As `ethtool -k` prints it, e.g. "esp-hw-offload: off [fixed], esp-tx-csum-hw-offload: off [fixed]". */
  summary: string;
}

/** One feature the way `ethtool -k` shows it. */
export function formatFeature(name: string, f: EthtoolFeature): string {
  if (!f.present) return `${name}: not known to this kernel`;
  const fixed = !f.available || f.neverChanged ? ' [fixed]' : '';
  const requested = f.requested !== f.active ? ` [requested ${f.requested ? 'on' : 'off'}]` : '';
  return `${name}: ${f.active ? 'on' : 'off'}${fixed}${requested}`;
}

export function describeEspFeatures(ifname: string, raw: EthtoolEsp): EspOffloadCapability {
  return {
    ifname,
    ifindex: raw.ifindex,
    espHwOffload: raw.espHwOffload,
    espTxCsumHwOffload: raw.espTxCsumHwOffload,
    capable: raw.espHwOffload.present && raw.espHwOffload.active,
    summary: `${formatFeature('esp-hw-offload', raw.espHwOffload)}, ${formatFeature('esp-tx-csum-hw-offload', raw.espTxCsumHwOffload)}`,
  };
}

export interface QueryOptions {
  native?: XfrmNative;
  /** The namespace the device lives in (default: this process's). */
  netnsPath?: string;
  /** Reuse an open XFRM handle (its namespace) instead of opening one. */
  handle?: XfrmHandle;
}

/** The ESP offload features of ifname; throws with code ENODEV when there is no such device. */
export function queryEspOffload(ifname: string, opts: QueryOptions = {}): EspOffloadCapability {
  const native = opts.native ?? loadXfrmNative();
  let h = opts.handle;
  if (!h) {
    const opened = native.xfrmOpen(opts.netnsPath ? { netnsPath: opts.netnsPath } : {});
    if (typeof opened === 'number') throw xfrmError(native, opened, `ethtool ${ifname}: opening the namespace`);
    h = opened;
  }
  try {
    const raw = native.xfrmEthtoolEsp(h, ifname);
    if (typeof raw === 'number') throw xfrmError(native, raw, `ethtool ${ifname}`);
    return describeEspFeatures(ifname, raw);
  } finally {
    if (!opts.handle) native.xfrmClose(h);
  }
}
