export type { RenderableEvent, Renderer, RendererOptions } from './renderers.js';
export {
  createCompactRenderer,
  createPassthroughRenderer,
  createVerboseRenderer,
  preview,
} from './renderers.js';
export type { RenderPipeline, RenderSummary, Sink } from './sinks.js';
export {
  compactEntry,
  createCallbackSink,
  createFileSink,
  createJsonlSink,
  createRenderPipeline,
  createTtySink,
  renderEvents,
  stripAnsi,
  supportsColor,
} from './sinks.js';
export type { StudioRendererOptions } from './studio.js';
export { createStudioRenderer, formatSize, summarizeToolCall } from './studio.js';
