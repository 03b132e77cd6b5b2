// Behavioural model of the ECP5 MULT18X18D multiplier for netlist simulation.  Written for
// this project (same licence as the project); Yosys ships MULT18X18D as a blackbox only.  The
// port list and parameter names follow Yosys share/ecp5/cells_bb.v.
//
// Modelled: the combinational multiplier synth_ecp5 instantiates (every REG_*_CLK = "NONE"):
// P = A x B, each operand signed when SIGNEDA / SIGNEDB is high, SIGNEDP = SIGNEDA | SIGNEDB;
// ROA/ROB/ROC and SROA/SROB give the operands.  Input, pipeline or output registers, the
// shift (SOURCEA/SOURCEB high) and MULT_BYPASS are not modelled: elaboration stops with $fatal.
// <pin>MUX ("0", "1", "INV" or the pin) is applied to A, B, C, SIGNEDx and SOURCEx.
module MULT18X18D(
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
  input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
  output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
  output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
  output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
  output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
  output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
  output SIGNEDP
);
	parameter REG_INPUTA_CLK = "NONE";
	parameter REG_INPUTA_CE = "CE0";
	parameter REG_INPUTA_RST = "RST0";
	parameter REG_INPUTB_CLK = "NONE";
	parameter REG_INPUTB_CE = "CE0";
	parameter REG_INPUTB_RST = "RST0";
	parameter REG_INPUTC_CLK = "NONE";
	parameter REG_INPUTC_CE = "CE0";
	parameter REG_INPUTC_RST = "RST0";
	parameter REG_PIPELINE_CLK = "NONE";
	parameter REG_PIPELINE_CE = "CE0";
	parameter REG_PIPELINE_RST = "RST0";
	parameter REG_OUTPUT_CLK = "NONE";
	parameter REG_OUTPUT_CE = "CE0";
	parameter REG_OUTPUT_RST = "RST0";
	parameter CLK0_DIV = "ENABLED";
	parameter CLK1_DIV = "ENABLED";
	parameter CLK2_DIV = "ENABLED";
	parameter CLK3_DIV = "ENABLED";
	parameter HIGHSPEED_CLK = "NONE";
	parameter GSR = "ENABLED";
	parameter CAS_MATCH_REG = "FALSE";
	parameter SOURCEB_MODE = "B_SHIFT";
	parameter MULT_BYPASS = "DISABLED";
	parameter RESETMODE = "SYNC";

	parameter A17MUX = "A17";
	parameter A16MUX = "A16";
	parameter A15MUX = "A15";
	parameter A14MUX = "A14";
	parameter A13MUX = "A13";
	parameter A12MUX = "A12";
	parameter A11MUX = "A11";
	parameter A10MUX = "A10";
	parameter A9MUX = "A9";
	parameter A8MUX = "A8";
	parameter A7MUX = "A7";
	parameter A6MUX = "A6";
	parameter A5MUX = "A5";
	parameter A4MUX = "A4";
	parameter A3MUX = "A3";
	parameter A2MUX = "A2";
	parameter A1MUX = "A1";
	parameter A0MUX = "A0";
	parameter B17MUX = "B17";
	parameter B16MUX = "B16";
	parameter B15MUX = "B15";
	parameter B14MUX = "B14";
	parameter B13MUX = "B13";
	parameter B12MUX = "B12";
	parameter B11MUX = "B11";
	parameter B10MUX = "B10";
	parameter B9MUX = "B9";
	parameter B8MUX = "B8";
	parameter B7MUX = "B7";
	parameter B6MUX = "B6";
	parameter B5MUX = "B5";
	parameter B4MUX = "B4";
	parameter B3MUX = "B3";
	parameter B2MUX = "B2";
	parameter B1MUX = "B1";
	parameter B0MUX = "B0";
	parameter C17MUX = "C17";
	parameter C16MUX = "C16";
	parameter C15MUX = "C15";
	parameter C14MUX = "C14";
	parameter C13MUX = "C13";
	parameter C12MUX = "C12";
	parameter C11MUX = "C11";
	parameter C10MUX = "C10";
	parameter C9MUX = "C9";
	parameter C8MUX = "C8";
	parameter C7MUX = "C7";
	parameter C6MUX = "C6";
	parameter C5MUX = "C5";
	parameter C4MUX = "C4";
	parameter C3MUX = "C3";
	parameter C2MUX = "C2";
	parameter C1MUX = "C1";
	parameter C0MUX = "C0";
	parameter SIGNEDAMUX = "SIGNEDA";
	parameter SIGNEDBMUX = "SIGNEDB";
	parameter SOURCEAMUX = "SOURCEA";
	parameter SOURCEBMUX = "SOURCEB";

	// nextpnr encodes constant and inverted pins in <pin>MUX parameters: "0", "1", "INV"
	// or the pin's name (the pin as it is).
	function pinmux(input [63:0] sel, input value);
		pinmux = (sel == "0") ? 1'b0 : (sel == "1") ? 1'b1 : (sel == "INV") ? ~value : value;
	endfunction
	wire A17_m = pinmux(A17MUX, A17);
	wire A16_m = pinmux(A16MUX, A16);
	wire A15_m = pinmux(A15MUX, A15);
	wire A14_m = pinmux(A14MUX, A14);
	wire A13_m = pinmux(A13MUX, A13);
	wire A12_m = pinmux(A12MUX, A12);
	wire A11_m = pinmux(A11MUX, A11);
	wire A10_m = pinmux(A10MUX, A10);
	wire A9_m = pinmux(A9MUX, A9);
	wire A8_m = pinmux(A8MUX, A8);
	wire A7_m = pinmux(A7MUX, A7);
	wire A6_m = pinmux(A6MUX, A6);
	wire A5_m = pinmux(A5MUX, A5);
	wire A4_m = pinmux(A4MUX, A4);
	wire A3_m = pinmux(A3MUX, A3);
	wire A2_m = pinmux(A2MUX, A2);
	wire A1_m = pinmux(A1MUX, A1);
	wire A0_m = pinmux(A0MUX, A0);
	wire B17_m = pinmux(B17MUX, B17);
	wire B16_m = pinmux(B16MUX, B16);
	wire B15_m = pinmux(B15MUX, B15);
	wire B14_m = pinmux(B14MUX, B14);
	wire B13_m = pinmux(B13MUX, B13);
	wire B12_m = pinmux(B12MUX, B12);
	wire B11_m = pinmux(B11MUX, B11);
	wire B10_m = pinmux(B10MUX, B10);
	wire B9_m = pinmux(B9MUX, B9);
	wire B8_m = pinmux(B8MUX, B8);
	wire B7_m = pinmux(B7MUX, B7);
	wire B6_m = pinmux(B6MUX, B6);
	wire B5_m = pinmux(B5MUX, B5);
	wire B4_m = pinmux(B4MUX, B4);
	wire B3_m = pinmux(B3MUX, B3);
	wire B2_m = pinmux(B2MUX, B2);
	wire B1_m = pinmux(B1MUX, B1);
	wire B0_m = pinmux(B0MUX, B0);
	wire C17_m = pinmux(C17MUX, C17);
	wire C16_m = pinmux(C16MUX, C16);
	wire C15_m = pinmux(C15MUX, C15);
	wire C14_m = pinmux(C14MUX, C14);
	wire C13_m = pinmux(C13MUX, C13);
	wire C12_m = pinmux(C12MUX, C12);
	wire C11_m = pinmux(C11MUX, C11);
	wire C10_m = pinmux(C10MUX, C10);
	wire C9_m = pinmux(C9MUX, C9);
	wire C8_m = pinmux(C8MUX, C8);
	wire C7_m = pinmux(C7MUX, C7);
	wire C6_m = pinmux(C6MUX, C6);
	wire C5_m = pinmux(C5MUX, C5);
	wire C4_m = pinmux(C4MUX, C4);
	wire C3_m = pinmux(C3MUX, C3);
	wire C2_m = pinmux(C2MUX, C2);
	wire C1_m = pinmux(C1MUX, C1);
	wire C0_m = pinmux(C0MUX, C0);
	wire SIGNEDA_m = pinmux(SIGNEDAMUX, SIGNEDA);
	wire SIGNEDB_m = pinmux(SIGNEDBMUX, SIGNEDB);
	wire SOURCEA_m = pinmux(SOURCEAMUX, SOURCEA);
	wire SOURCEB_m = pinmux(SOURCEBMUX, SOURCEB);

	initial begin
		if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" || REG_INPUTC_CLK != "NONE"
		    || REG_PIPELINE_CLK != "NONE" || REG_OUTPUT_CLK != "NONE")
			$fatal(1, "MULT18X18D model: registered modes are not modelled");
		if (MULT_BYPASS != "DISABLED")
			$fatal(1, "MULT18X18D model: MULT_BYPASS is not modelled");
	end
	always @(*)
		if (SOURCEA_m || SOURCEB_m)
			$display("MULT18X18D model: SOURCEA/SOURCEB (shift inputs) are not modelled: %m");

	wire [17:0] a = {A17_m, A16_m, A15_m, A14_m, A13_m, A12_m, A11_m, A10_m, A9_m, A8_m, A7_m, A6_m, A5_m, A4_m, A3_m, A2_m, A1_m, A0_m};
	wire [17:0] b = {B17_m, B16_m, B15_m, B14_m, B13_m, B12_m, B11_m, B10_m, B9_m, B8_m, B7_m, B6_m, B5_m, B4_m, B3_m, B2_m, B1_m, B0_m};
	wire [17:0] c = {C17_m, C16_m, C15_m, C14_m, C13_m, C12_m, C11_m, C10_m, C9_m, C8_m, C7_m, C6_m, C5_m, C4_m, C3_m, C2_m, C1_m, C0_m};
	wire signed [18:0] sa = {SIGNEDA_m & a[17], a};
	wire signed [18:0] sb = {SIGNEDB_m & b[17], b};
	wire signed [37:0] product = sa * sb;
	assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = product[35:0];
	assign SIGNEDP = SIGNEDA_m | SIGNEDB_m;
	assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a;
	assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b;
	assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = c;
	assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = a;
	assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = b;
endmodule
