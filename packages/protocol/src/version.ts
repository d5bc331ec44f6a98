/** The Drover release every package of this repository belongs to. */
export const DROVER_VERSION = '0.1.0';
