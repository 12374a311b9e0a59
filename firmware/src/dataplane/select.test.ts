// Tests for data-plane backend selection.
import { describe, expect, it } from 'vitest';
import { backendProblem, DataplaneUnavailableError, selectDataplane } from './select.ts';

describe('selectDataplane', () => {
  it.each([
    ['auto', 'data plane: mock (userspace and xfrm backends not built yet)'],
    ['mock', 'data plane: mock (configured)'],
  ] as const)('%s gives the mock and logs exactly one line', (backend, line) => {
    const lines: string[] = [];
    const dp = selectDataplane({ backend, offload: 'auto' }, { info: (m) => lines.push(m) });
    expect(dp.features().backend).toBe('mock');
    expect(lines).toEqual([line]);
    expect(backendProblem({ backend, offload: 'auto' })).toBeNull();
  });

  it.each(['userspace', 'xfrm'] as const)('an explicit %s is a clear error', (backend) => {
    expect(() => selectDataplane({ backend, offload: 'none' })).toThrow(DataplaneUnavailableError);
    expect(() => selectDataplane({ backend, offload: 'none' })).toThrow(`data plane backend "${backend}" is not built yet (available: mock); use backend: auto or mock`);
    expect(backendProblem({ backend, offload: 'none' })).toMatch(/not built yet/);
  });
});
