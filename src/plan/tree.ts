/** Walking a layer tree. */
import type { LayerPlan } from "./types.ts";

/** Every layer of the tree, parents first. */
export function allLayers(l: LayerPlan): LayerPlan[] {
  return [l, ...l.sublayers.flatMap(allLayers)];
}

/** True when the app runs in `l` or below it. */
export function containsApp(l: LayerPlan): boolean {
  return l.app !== undefined || l.sublayers.some(containsApp);
}
