// vitgates: a simulation model of the Lattice ECP5 DP16KD block RAM (sysMEM EBR), written
// from the primitive's documented behaviour (Lattice's ECP5 memory usage guide) for the
// parameter values that yosys's synth_ecp5 gives this project's netlists. Any other value
// stops the simulation at time 0 with one line that names it.
//
// Storage: 1024 rows of 18 bits. A 9-bit word is half a row (the low half at the even
// address). INITVAL_00..3F hold 16 rows each: row r in bits [20*(r%16) +: 18] of
// INITVAL_<r/16>.
//
// Modelled:
// - DATA_WIDTH_A/B 9 or 18 (true dual port): port X addresses a 9-bit word with AD[13:3]
//   or an 18-bit word with AD[13:4]; at 18 bits AD[1:0] enable the write of bits 8:0 and
//   17:9.
// - DATA_WIDTH_A = DATA_WIDTH_B = 36: the pseudo dual port (PDPW16KD) packed into this
//   cell, as yosys maps it: port A writes 36 bits, DIA the low half and DIB the high half,
//   at AD[13:5] with byte enables ADA[3:0] (9 bits each, from bit 0); port B reads the
//   word at ADB[13:5] into DOA (low half) and DOB (high half). Word w is rows 2w and 2w+1.
// - Port X is selected when {CSX2, CSX1, CSX0} equals CSDECODE_X ("0b" and CS2 first). On
//   a rising CLKX edge with the port selected and CEX high it writes when WEX is high
//   (never port B at 36 bits), else it reads into its output (REGMODE NOREG: the data is
//   out one cycle after the address). A write sets its own port's output as WRITEMODE_X
//   says: NORMAL keeps it, WRITETHROUGH shows the new word, READBEFOREWRITE the old one.
// - A read of bits that the other port writes at the same edge returns X for those bits
//   (the guide leaves such a read undefined; Icarus shows the X, Verilator some value).
//   Both ports writing one row at one edge is not modelled (the guide forbids it).
// - RSTX clears port X's output: at once and while high with RESETMODE "ASYNC", at the
//   clock edge (whatever CEX) with "SYNC". The stored words are kept.
// - GSR and ASYNC_RESET_RELEASE take any value: no global reset is modelled, and the
//   release of an asynchronous reset is not timed.
module DP16KD (
    input DIA0, DIA1, DIA2, DIA3, DIA4, DIA5, DIA6, DIA7, DIA8, DIA9, DIA10, DIA11, DIA12, DIA13, DIA14, DIA15, DIA16, DIA17,
    input ADA0, ADA1, ADA2, ADA3, ADA4, ADA5, ADA6, ADA7, ADA8, ADA9, ADA10, ADA11, ADA12, ADA13,
    input CEA, OCEA, CLKA, WEA, CSA0, CSA1, CSA2, RSTA,
    input DIB0, DIB1, DIB2, DIB3, DIB4, DIB5, DIB6, DIB7, DIB8, DIB9, DIB10, DIB11, DIB12, DIB13, DIB14, DIB15, DIB16, DIB17,
    input ADB0, ADB1, ADB2, ADB3, ADB4, ADB5, ADB6, ADB7, ADB8, ADB9, ADB10, ADB11, ADB12, ADB13,
    input CEB, OCEB, CLKB, WEB, CSB0, CSB1, CSB2, RSTB,
    output DOA0, DOA1, DOA2, DOA3, DOA4, DOA5, DOA6, DOA7, DOA8, DOA9, DOA10, DOA11, DOA12, DOA13, DOA14, DOA15, DOA16, DOA17,
    output DOB0, DOB1, DOB2, DOB3, DOB4, DOB5, DOB6, DOB7, DOB8, DOB9, DOB10, DOB11, DOB12, DOB13, DOB14, DOB15, DOB16, DOB17
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter GSR = "ENABLED";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter INIT_DATA = "STATIC";
    parameter INITVAL_00 = 320'h0;
    parameter INITVAL_01 = 320'h0;
    parameter INITVAL_02 = 320'h0;
    parameter INITVAL_03 = 320'h0;
    parameter INITVAL_04 = 320'h0;
    parameter INITVAL_05 = 320'h0;
    parameter INITVAL_06 = 320'h0;
    parameter INITVAL_07 = 320'h0;
    parameter INITVAL_08 = 320'h0;
    parameter INITVAL_09 = 320'h0;
    parameter INITVAL_0A = 320'h0;
    parameter INITVAL_0B = 320'h0;
    parameter INITVAL_0C = 320'h0;
    parameter INITVAL_0D = 320'h0;
    parameter INITVAL_0E = 320'h0;
    parameter INITVAL_0F = 320'h0;
    parameter INITVAL_10 = 320'h0;
    parameter INITVAL_11 = 320'h0;
    parameter INITVAL_12 = 320'h0;
    parameter INITVAL_13 = 320'h0;
    parameter INITVAL_14 = 320'h0;
    parameter INITVAL_15 = 320'h0;
    parameter INITVAL_16 = 320'h0;
    parameter INITVAL_17 = 320'h0;
    parameter INITVAL_18 = 320'h0;
    parameter INITVAL_19 = 320'h0;
    parameter INITVAL_1A = 320'h0;
    parameter INITVAL_1B = 320'h0;
    parameter INITVAL_1C = 320'h0;
    parameter INITVAL_1D = 320'h0;
    parameter INITVAL_1E = 320'h0;
    parameter INITVAL_1F = 320'h0;
    parameter INITVAL_20 = 320'h0;
    parameter INITVAL_21 = 320'h0;
    parameter INITVAL_22 = 320'h0;
    parameter INITVAL_23 = 320'h0;
    parameter INITVAL_24 = 320'h0;
    parameter INITVAL_25 = 320'h0;
    parameter INITVAL_26 = 320'h0;
    parameter INITVAL_27 = 320'h0;
    parameter INITVAL_28 = 320'h0;
    parameter INITVAL_29 = 320'h0;
    parameter INITVAL_2A = 320'h0;
    parameter INITVAL_2B = 320'h0;
    parameter INITVAL_2C = 320'h0;
    parameter INITVAL_2D = 320'h0;
    parameter INITVAL_2E = 320'h0;
    parameter INITVAL_2F = 320'h0;
    parameter INITVAL_30 = 320'h0;
    parameter INITVAL_31 = 320'h0;
    parameter INITVAL_32 = 320'h0;
    parameter INITVAL_33 = 320'h0;
    parameter INITVAL_34 = 320'h0;
    parameter INITVAL_35 = 320'h0;
    parameter INITVAL_36 = 320'h0;
    parameter INITVAL_37 = 320'h0;
    parameter INITVAL_38 = 320'h0;
    parameter INITVAL_39 = 320'h0;
    parameter INITVAL_3A = 320'h0;
    parameter INITVAL_3B = 320'h0;
    parameter INITVAL_3C = 320'h0;
    parameter INITVAL_3D = 320'h0;
    parameter INITVAL_3E = 320'h0;
    parameter INITVAL_3F = 320'h0;

    localparam PDP = DATA_WIDTH_A == 36;

    // the parameter values we model; any other stops the simulation with one line
    initial begin
        if (!((DATA_WIDTH_A == 36 && DATA_WIDTH_B == 36) ||
              ((DATA_WIDTH_A == 9 || DATA_WIDTH_A == 18) &&
               (DATA_WIDTH_B == 9 || DATA_WIDTH_B == 18))))
            $fatal(1, "DP16KD %m: DATA_WIDTH_A=%0d DATA_WIDTH_B=%0d is not modelled (9 or 18 on each port, or 36 on both)", DATA_WIDTH_A, DATA_WIDTH_B);
        if (REGMODE_A != "NOREG" || REGMODE_B != "NOREG")
            $fatal(1, "DP16KD %m: REGMODE_A=%0s REGMODE_B=%0s is not modelled (NOREG only)", REGMODE_A, REGMODE_B);
        if (RESETMODE != "SYNC" && RESETMODE != "ASYNC")
            $fatal(1, "DP16KD %m: RESETMODE=%0s is not modelled (SYNC or ASYNC)", RESETMODE);
        if (CLKAMUX != "CLKA" || CLKBMUX != "CLKB")
            $fatal(1, "DP16KD %m: CLKAMUX=%0s CLKBMUX=%0s is not modelled (CLKA and CLKB only)", CLKAMUX, CLKBMUX);
        if (INIT_DATA != "STATIC")
            $fatal(1, "DP16KD %m: INIT_DATA=%0s is not modelled (STATIC only)", INIT_DATA);
        if (WRITEMODE_A != "NORMAL" && WRITEMODE_A != "WRITETHROUGH" && WRITEMODE_A != "READBEFOREWRITE")
            $fatal(1, "DP16KD %m: WRITEMODE_A=%0s is not modelled (NORMAL, WRITETHROUGH, READBEFOREWRITE)", WRITEMODE_A);
        if (WRITEMODE_B != "NORMAL" && WRITEMODE_B != "WRITETHROUGH" && WRITEMODE_B != "READBEFOREWRITE")
            $fatal(1, "DP16KD %m: WRITEMODE_B=%0s is not modelled (NORMAL, WRITETHROUGH, READBEFOREWRITE)", WRITEMODE_B);
    end

    function [319:0] initval(input [5:0] i);
        case (i)
            6'h00: initval = INITVAL_00;
            6'h01: initval = INITVAL_01;
            6'h02: initval = INITVAL_02;
            6'h03: initval = INITVAL_03;
            6'h04: initval = INITVAL_04;
            6'h05: initval = INITVAL_05;
            6'h06: initval = INITVAL_06;
            6'h07: initval = INITVAL_07;
            6'h08: initval = INITVAL_08;
            6'h09: initval = INITVAL_09;
            6'h0A: initval = INITVAL_0A;
            6'h0B: initval = INITVAL_0B;
            6'h0C: initval = INITVAL_0C;
            6'h0D: initval = INITVAL_0D;
            6'h0E: initval = INITVAL_0E;
            6'h0F: initval = INITVAL_0F;
            6'h10: initval = INITVAL_10;
            6'h11: initval = INITVAL_11;
            6'h12: initval = INITVAL_12;
            6'h13: initval = INITVAL_13;
            6'h14: initval = INITVAL_14;
            6'h15: initval = INITVAL_15;
            6'h16: initval = INITVAL_16;
            6'h17: initval = INITVAL_17;
            6'h18: initval = INITVAL_18;
            6'h19: initval = INITVAL_19;
            6'h1A: initval = INITVAL_1A;
            6'h1B: initval = INITVAL_1B;
            6'h1C: initval = INITVAL_1C;
            6'h1D: initval = INITVAL_1D;
            6'h1E: initval = INITVAL_1E;
            6'h1F: initval = INITVAL_1F;
            6'h20: initval = INITVAL_20;
            6'h21: initval = INITVAL_21;
            6'h22: initval = INITVAL_22;
            6'h23: initval = INITVAL_23;
            6'h24: initval = INITVAL_24;
            6'h25: initval = INITVAL_25;
            6'h26: initval = INITVAL_26;
            6'h27: initval = INITVAL_27;
            6'h28: initval = INITVAL_28;
            6'h29: initval = INITVAL_29;
            6'h2A: initval = INITVAL_2A;
            6'h2B: initval = INITVAL_2B;
            6'h2C: initval = INITVAL_2C;
            6'h2D: initval = INITVAL_2D;
            6'h2E: initval = INITVAL_2E;
            6'h2F: initval = INITVAL_2F;
            6'h30: initval = INITVAL_30;
            6'h31: initval = INITVAL_31;
            6'h32: initval = INITVAL_32;
            6'h33: initval = INITVAL_33;
            6'h34: initval = INITVAL_34;
            6'h35: initval = INITVAL_35;
            6'h36: initval = INITVAL_36;
            6'h37: initval = INITVAL_37;
            6'h38: initval = INITVAL_38;
            6'h39: initval = INITVAL_39;
            6'h3A: initval = INITVAL_3A;
            6'h3B: initval = INITVAL_3B;
            6'h3C: initval = INITVAL_3C;
            6'h3D: initval = INITVAL_3D;
            6'h3E: initval = INITVAL_3E;
            6'h3F: initval = INITVAL_3F;
            default: initval = 320'h0;
        endcase
    endfunction

    // "0bXYZ" as three bits: bit 0 of each of the last three characters
    function [2:0] csdecode(input [39:0] s);
        csdecode = {s[16], s[8], s[0]};
    endfunction

    // the row a port addresses (at 36 bits, the even row of the word)
    function [9:0] row_of(input integer width, input [13:0] ad);
        row_of = width == 36 ? {ad[13:5], 1'b0} : ad[13:4];
    endfunction
    // the bits of the row a write may change: the half of a 9-bit word, the byte enables
    // of 18 bits (AD[1:0]) and of the low half of 36 (AD[1:0]; the high half is AD[3:2])
    function [17:0] wmask_of(input integer width, input [13:0] ad);
        if (width == 9)
            wmask_of = ad[3] ? 18'h3fe00 : 18'h001ff;
        else
            wmask_of = {{9{ad[1]}}, {9{ad[0]}}};
    endfunction
    // a port's data placed in its row, and a port's word taken out of its row
    function [17:0] place(input integer width, input [13:0] ad, input [17:0] d);
        place = width == 9 ? (ad[3] ? {d[8:0], 9'h0} : {9'h0, d[8:0]}) : d;
    endfunction
    function [17:0] take(input integer width, input [13:0] ad, input [17:0] row);
        take = width == 9 ? {9'h0, ad[3] ? row[17:9] : row[8:0]} : row;
    endfunction

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};

    reg [17:0] mem [0:1023];
    reg [17:0] out_a, out_b, pdp_lo;  // port A's, port B's, and at 36 bits the low half
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = PDP ? pdp_lo : out_a;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = out_b;

    integer r;
    initial begin
        for (r = 0; r < 1024; r = r + 1)
            mem[r] = initval(r / 16) >> (20 * (r % 16));
        out_a = 18'h0;
        out_b = 18'h0;
        pdp_lo = 18'h0;
    end

    wire sel_a = {CSA2, CSA1, CSA0} == csdecode(CSDECODE_A);
    wire sel_b = {CSB2, CSB1, CSB0} == csdecode(CSDECODE_B);
    wire wr_a = sel_a & CEA & WEA;
    wire wr_b = sel_b & CEB & WEB & !PDP;
    wire [9:0] row_a = row_of(DATA_WIDTH_A, ada);
    wire [9:0] row_b = row_of(DATA_WIDTH_B, adb);
    wire [17:0] mask_a = wmask_of(DATA_WIDTH_A, ada);
    wire [17:0] mask_a_hi = {{9{ada[3]}}, {9{ada[2]}}};  // 36 bits: the high half's bytes
    wire [17:0] mask_b = wmask_of(DATA_WIDTH_B, adb);
    wire [17:0] data_a = place(DATA_WIDTH_A, ada, dia);
    wire [17:0] data_b = place(DATA_WIDTH_B, adb, dib);
    wire arst_a = RESETMODE == "ASYNC" && RSTA;
    wire arst_b = RESETMODE == "ASYNC" && RSTB;

    // The bits of row ``row`` the other port writes at this edge, as X (the other port's
    // clock is high: it shares this edge or the ports' clocks are not related).
    function [17:0] clash(input [17:0] word, input wr, input clk, input [9:0] wrow,
                          input [17:0] wmask, input [9:0] row);
        integer k;
        begin
            clash = word;
            if (wr && clk && wrow == row)
                for (k = 0; k < 18; k = k + 1)
                    if (wmask[k])
                        clash[k] = 1'bx;
        end
    endfunction

    // Writes are non-blocking: a read at the same edge, by either port, sees the old row.
    // A reset clears a port's output only; its write goes ahead.
    always @(posedge CLKA) begin
        if (wr_a) begin
            mem[row_a] <= (mem[row_a] & ~mask_a) | (data_a & mask_a);
            if (PDP)
                mem[row_a | 10'h1] <= (mem[row_a | 10'h1] & ~mask_a_hi) | (dib & mask_a_hi);
        end
    end
    always @(posedge CLKB) begin
        if (wr_b)
            mem[row_b] <= (mem[row_b] & ~mask_b) | (data_b & mask_b);
    end

    reg [17:0] old_a, old_b;
    always @(posedge CLKA or posedge arst_a) begin
        if (arst_a || RSTA) begin
            out_a <= 18'h0;
        end else if (sel_a && CEA && !PDP) begin
            old_a = mem[row_a];
            if (!WEA)
                out_a <= take(DATA_WIDTH_A, ada, clash(old_a, wr_b, CLKB, row_b, mask_b, row_a));
            else if (WRITEMODE_A == "WRITETHROUGH")
                out_a <= take(DATA_WIDTH_A, ada, (old_a & ~mask_a) | (data_a & mask_a));
            else if (WRITEMODE_A == "READBEFOREWRITE")
                out_a <= take(DATA_WIDTH_A, ada, old_a);
        end
    end

    always @(posedge CLKB or posedge arst_b) begin
        if (arst_b || RSTB) begin
            out_b <= 18'h0;
            pdp_lo <= 18'h0;
        end else if (sel_b && CEB && PDP) begin
            pdp_lo <= clash(mem[row_b], wr_a, CLKA, row_a, mask_a, row_b);
            out_b <= clash(mem[row_b | 10'h1], wr_a, CLKA, row_a, mask_a_hi, row_b);
        end else if (sel_b && CEB) begin
            old_b = mem[row_b];
            if (!WEB)
                out_b <= take(DATA_WIDTH_B, adb, clash(old_b, wr_a, CLKA, row_a, mask_a, row_b));
            else if (WRITEMODE_B == "WRITETHROUGH")
                out_b <= take(DATA_WIDTH_B, adb, (old_b & ~mask_b) | (data_b & mask_b));
            else if (WRITEMODE_B == "READBEFOREWRITE")
                out_b <= take(DATA_WIDTH_B, adb, old_b);
        end
    end
endmodule
