/**
 * @internal What the fake HTTP servers answer next: queued responses first, then `script:<id>`
 * models (one scripted response per request), then `scenario:<name>` (or the default scenario).
 * Shared by the fake Anthropic and Responses servers.
 */
export interface ResponseBook<Request, Response> {
  /** The response for `request`, whose body named `model`. */
  resolve(request: Request, model: string): Response;
  /** Registers scripted responses; returns the model name (`script:<id>`) that plays them. */
  script(responses: ReadonlyArray<Response | ((request: Request) => Response)>): string;
  /** Queues responses served first, whatever the model. */
  enqueue(responses: ReadonlyArray<Response | ((request: Request) => Response)>): void;
  /** Forgets queued responses and scripts. */
  reset(): void;
}

/** @internal Options of {@link createResponseBook}. */
export interface ResponseBookOptions<Request, Response> {
  scenarios: Record<string, Response | ((request: Request) => Response)>;
  defaultScenario: string;
  /** A scenario made up from its name (`deltas:<n>`), or `undefined`. */
  madeUp: (name: string) => Response | undefined;
  /** Also take a bare model name that names a scenario (without `scenario:`). */
  bareScenarioNames?: boolean;
  /** The 400 answer for an unknown scenario or an exhausted script. */
  badRequest: (message: string) => Response;
}

/** @internal See {@link ResponseBook}. */
export function createResponseBook<Request, Response>(
  options: ResponseBookOptions<Request, Response>,
): ResponseBook<Request, Response> {
  type Entry = Response | ((request: Request) => Response);
  const { scenarios, defaultScenario, madeUp, badRequest } = options;
  const queue: Entry[] = [];
  const scripts = new Map<string, Entry[]>();
  let scriptCounter = 0;
  const scenario = (name: string): Entry | undefined =>
    Object.hasOwn(scenarios, name) ? scenarios[name] : undefined;

  return {
    resolve(request, model) {
      const apply = (entry: Entry): Response =>
        typeof entry === 'function' ? (entry as (request: Request) => Response)(request) : entry;
      const queued = queue.shift();
      if (queued !== undefined) return apply(queued);
      if (model.startsWith('script:')) {
        const next = scripts.get(model.slice('script:'.length))?.shift();
        if (next === undefined) return badRequest(`Fake script ${model} is unknown or exhausted`);
        return apply(next);
      }
      const named = model.startsWith('scenario:') ? model.slice('scenario:'.length) : undefined;
      const name =
        named ??
        (options.bareScenarioNames === true && scenario(model) !== undefined ? model : defaultScenario);
      const entry = scenario(name) ?? madeUp(name);
      if (entry === undefined) return badRequest(`Unknown fake scenario: ${name}`);
      return apply(entry);
    },
    script(responses) {
      const id = `s${++scriptCounter}`;
      scripts.set(id, [...responses]);
      return `script:${id}`;
    },
    enqueue(responses) {
      queue.push(...responses);
    },
    reset() {
      queue.length = 0;
      scripts.clear();
    },
  };
}
