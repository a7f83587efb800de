import { JitpoolError } from '../core/index.ts';

/** A repository's visibility in the simulator. */
export type SimVisibility = 'public' | 'private' | 'internal';

/**
 * What the simulator knows about repositories beyond their jobs: their visibility (private unless
 * set, which runner groups care about) and which ones were deleted — every REST path under a
 * deleted repository answers 404, as GitHub does once a repository is gone or the token lost it.
 */
export class SimRepositories {
  readonly #visibility = new Map<string, SimVisibility>();
  readonly #deleted = new Set<string>();

  /** Sets a repository's visibility. Throws `JP_INPUT_INVALID` for anything else than public, private, internal. */
  setVisibility(owner: string, repo: string, visibility: SimVisibility): void {
    if (visibility !== 'public' && visibility !== 'private' && visibility !== 'internal') {
      throw new JitpoolError('JP_INPUT_INVALID', 'setRepository: visibility is public, private or internal');
    }
    this.#visibility.set(key(owner, repo), visibility);
  }

  /** A repository's visibility (private unless set). */
  visibility(owner: string, repo: string): SimVisibility {
    return this.#visibility.get(key(owner, repo)) ?? 'private';
  }

  /** True for a public repository. */
  isPublic(owner: string, repo: string): boolean {
    return this.visibility(owner, repo) === 'public';
  }

  /** Deletes a repository: its API paths answer 404 from now on and its jobs are never assigned. */
  delete(owner: string, repo: string): void {
    this.#deleted.add(key(owner, repo));
  }

  /** True once a repository was deleted. */
  isDeleted(owner: string, repo: string): boolean {
    return this.#deleted.has(key(owner, repo));
  }
}

function key(owner: string, repo: string): string {
  return `${owner}/${repo}`.toLowerCase();
}
