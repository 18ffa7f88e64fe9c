/** The descriptor on which each layer runner receives its plan (a memfd written by its parent). */
export const PLAN_FD = 3;
