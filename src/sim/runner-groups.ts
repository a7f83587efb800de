import { JitpoolError } from '../core/index.ts';

/** A runner group as the simulator keeps it (GitHub's `runner-groups-org`, reduced). */
export interface SimRunnerGroup {
  id: number;
  name: string;
  /** `all`: serves every repository; `selected`: only {@link SimRunnerGroup.selectedRepositories}. */
  visibility: 'all' | 'selected';
  /** `owner/repo` names the group serves when `visibility` is `selected`. */
  selectedRepositories: string[];
  /** Public repositories may use the group's runners; GitHub's default is false, for every group. */
  allowsPublicRepositories: boolean;
  isDefault: boolean;
}

/** What {@link RunnerGroups.create} takes. */
export interface RunnerGroupSpec {
  name: string;
  /** @default 'all' */
  visibility?: 'all' | 'selected';
  /** `owner/repo` names; only with `visibility: 'selected'`. @default [] */
  selectedRepositories?: string[];
  /** Let public repositories use the group. @default false (as GitHub) */
  allowsPublicRepositories?: boolean;
}

/**
 * Runner groups and which repositories each serves. Group 1 is GitHub's `Default` group and
 * serves every private repository; like every group, it serves public repositories only when
 * `allowsPublicRepositories` is set (GitHub's default is off). The simulator has one namespace of groups for all organisations and
 * the enterprise. A group id the simulator was never told about serves every repository (tests
 * that register runners straight into the state use arbitrary ids).
 */
export class RunnerGroups {
  readonly #groups = new Map<number, SimRunnerGroup>([
    [1, { id: 1, name: 'Default', visibility: 'all', selectedRepositories: [], allowsPublicRepositories: false, isDefault: true }],
  ]);
  #nextId = 2;

  /** Creates a group and returns it. Throws `JP_INPUT_INVALID` on a bad spec or a duplicate name. */
  create(spec: RunnerGroupSpec): SimRunnerGroup {
    const name = typeof spec.name === 'string' ? spec.name.trim() : '';
    if (name === '') throw new JitpoolError('JP_INPUT_INVALID', 'createRunnerGroup: name is required');
    if ([...this.#groups.values()].some((group) => group.name.toLowerCase() === name.toLowerCase())) {
      throw new JitpoolError('JP_INPUT_INVALID', `createRunnerGroup: a group named ${name} exists`);
    }
    const visibility = spec.visibility ?? 'all';
    if (visibility !== 'all' && visibility !== 'selected') throw new JitpoolError('JP_INPUT_INVALID', 'createRunnerGroup: visibility must be all or selected');
    const selected = spec.selectedRepositories ?? [];
    if (!selected.every((repo) => /^[^/\s]+\/[^/\s]+$/.test(repo))) {
      throw new JitpoolError('JP_INPUT_INVALID', 'createRunnerGroup: selectedRepositories are owner/repo names');
    }
    const group: SimRunnerGroup = {
      id: this.#nextId++, name, visibility, selectedRepositories: [...selected], allowsPublicRepositories: spec.allowsPublicRepositories === true, isDefault: false,
    };
    this.#groups.set(group.id, group);
    return group;
  }

  /** Replaces the repositories a `selected` group serves. Throws `JP_GITHUB_NOT_FOUND` for an unknown group. */
  setRepositories(id: number, repositories: string[]): SimRunnerGroup {
    const group = this.#groups.get(id);
    if (!group) throw new JitpoolError('JP_GITHUB_NOT_FOUND', `runner group ${id} not found`);
    group.selectedRepositories = [...repositories];
    return group;
  }

  /** Lets public repositories use group `id` (or not). Throws `JP_GITHUB_NOT_FOUND` for an unknown group. */
  setAllowsPublicRepositories(id: number, isAllowed: boolean): SimRunnerGroup {
    const group = this.#groups.get(id);
    if (!group) throw new JitpoolError('JP_GITHUB_NOT_FOUND', `runner group ${id} not found`);
    group.allowsPublicRepositories = isAllowed;
    return group;
  }

  /** The group with this id, if the simulator knows it. */
  get(id: number): SimRunnerGroup | undefined {
    return this.#groups.get(id);
  }

  /** Every known group, by id. */
  list(): SimRunnerGroup[] {
    return [...this.#groups.values()].map((group) => ({ ...group, selectedRepositories: [...group.selectedRepositories] }));
  }

  /** The name GitHub shows for a group. */
  nameOf(id: number): string {
    return this.#groups.get(id)?.name ?? `group-${id}`;
  }

  /** True when group `id` may serve jobs of `owner/repo` (case-insensitive), public or not. */
  serves(id: number, owner: string, repo: string, isPublic = false): boolean {
    const group = this.#groups.get(id);
    if (!group) return true;
    if (isPublic && !group.allowsPublicRepositories) return false;
    if (group.visibility === 'all') return true;
    const wanted = `${owner}/${repo}`.toLowerCase();
    return group.selectedRepositories.some((name) => name.toLowerCase() === wanted);
  }
}
