/** The built console (index.html and assets), which drover-server serves under `/`. */
export declare const consoleDir: string;
